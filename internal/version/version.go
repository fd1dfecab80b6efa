// Package version says which build of hush is running: the module version and the commit
// the Go toolchain stamped into the binary (runtime/debug.ReadBuildInfo), for --version and
// the start-up log.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Info is what a binary knows about its own build.
type Info struct {
	Version  string // module version: a tag, a pseudo-version, or "(devel)"
	Commit   string // VCS revision; empty when the build carried none
	Time     string // commit time, RFC 3339; empty when unknown
	Modified bool   // built from a tree with uncommitted changes
	Go       string // toolchain, e.g. go1.26.0
}

// Get reads the running binary's build information.
func Get() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "(unknown)", Go: runtime.Version()}
	}
	return fromBuildInfo(bi)
}

func fromBuildInfo(bi *debug.BuildInfo) Info {
	in := Info{Version: bi.Main.Version, Go: bi.GoVersion}
	if in.Version == "" {
		in.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Commit = s.Value
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// Short is the version and, when the version does not name it, the commit:
// "v0.0.0-20261203084559-94db1e558afa", "(devel) 94db1e558afa", with "+dirty" when built
// from uncommitted changes.
func (in Info) Short() string {
	s := in.Version
	if c := in.Commit[:min(12, len(in.Commit))]; c != "" && !strings.Contains(s, c) {
		s += " " + c
	}
	if in.Modified && !strings.HasSuffix(s, "+dirty") {
		s += "+dirty"
	}
	return s
}

// String is the --version line of program.
func (in Info) String(program string) string {
	if in.Commit == "" {
		return fmt.Sprintf("%s %s (commit unknown: built without VCS stamping), %s %s/%s",
			program, in.Version, in.Go, runtime.GOOS, runtime.GOARCH)
	}
	dirty := ""
	if in.Modified {
		dirty = " with uncommitted changes"
	}
	return fmt.Sprintf("%s %s (commit %s%s, %s), %s %s/%s", program, in.Version, in.Commit, dirty, in.Time,
		in.Go, runtime.GOOS, runtime.GOARCH)
}
