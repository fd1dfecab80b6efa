package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	stamped := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v0.0.0-20261203084559-94db1e558afa"},
		Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "94db1e558afa6e05e39221bd5711d1c1a82a509d"},
			{Key: "vcs.time", Value: "2026-12-03T08:45:59Z"}, {Key: "vcs.modified", Value: "true"}}}
	in := fromBuildInfo(stamped)
	if got, want := in.Short(), "v0.0.0-20261203084559-94db1e558afa+dirty"; got != want {
		t.Errorf("Short() = %q, want %q", got, want)
	}
	for _, want := range []string{"hushd v0.0.0-20261203084559-94db1e558afa", "commit 94db1e558afa6e05e39221bd5711d1c1a82a509d with uncommitted changes",
		"2026-12-03T08:45:59Z", "go1.26.0"} {
		if s := in.String("hushd"); !strings.Contains(s, want) {
			t.Errorf("String() = %q, lacks %q", s, want)
		}
	}
	devel := fromBuildInfo(&debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "94db1e558afa6e05e39221bd5711d1c1a82a509d"}}})
	if got, want := devel.Short(), "(devel) 94db1e558afa"; got != want {
		t.Errorf("Short() = %q, want %q", got, want)
	}
	bare := fromBuildInfo(&debug.BuildInfo{GoVersion: "go1.26.0"})
	if bare.Short() != "(devel)" || !strings.Contains(bare.String("hushctl"), "hushctl (devel) (commit unknown") {
		t.Errorf("unstamped: Short %q, String %q", bare.Short(), bare.String("hushctl"))
	}
}

// A test binary has build information too; Get must not panic and names the toolchain.
func TestGet(t *testing.T) {
	if in := Get(); !strings.HasPrefix(in.Go, "go") {
		t.Fatalf("Get() = %+v", in)
	}
}
