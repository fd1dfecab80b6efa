package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line  int
	cmd   string // upper case: FROM, RUN, COPY...
	flags map[string]string
	args  string // the rest, flags removed
}

// stage is one FROM and what follows it.
type stage struct {
	name, image string
	ins         []instruction
}

func parseDockerfile(text string) ([]stage, error) {
	var stages []stage
	var cur strings.Builder
	start := 0
	lines := strings.Split(text, "\n")
	flush := func() error {
		s := strings.TrimSpace(cur.String())
		cur.Reset()
		if s == "" {
			return nil
		}
		word, rest, _ := strings.Cut(s, " ")
		in := instruction{line: start, cmd: strings.ToUpper(word), flags: map[string]string{}}
		rest = strings.TrimSpace(rest)
		for strings.HasPrefix(rest, "--") {
			var f string
			f, rest, _ = strings.Cut(rest, " ")
			k, v, _ := strings.Cut(strings.TrimPrefix(f, "--"), "=")
			in.flags[k] = v
			rest = strings.TrimSpace(rest)
		}
		in.args = rest
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			st := stage{image: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			stages = append(stages, st)
		}
		if len(stages) == 0 {
			return fmt.Errorf("line %d: %s before FROM", in.line, in.cmd)
		}
		stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
		return nil
	}
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if cur.Len() == 0 && (t == "" || strings.HasPrefix(t, "#")) {
			continue
		}
		if cur.Len() > 0 && strings.HasPrefix(t, "#") { // a comment inside a continuation
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(t, "\\") {
			cur.WriteString(strings.TrimSuffix(t, "\\") + " ")
			continue
		}
		cur.WriteString(t)
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if cur.Len() > 0 {
		return nil, fmt.Errorf("line %d: continuation at end of file", start)
	}
	return stages, flush()
}

// execForm parses an instruction's JSON (exec) form; ok false for the shell form.
func execForm(args string) ([]string, bool) {
	var argv []string
	if err := json.Unmarshal([]byte(args), &argv); err != nil || len(argv) == 0 {
		return nil, false
	}
	return argv, true
}

var (
	pinnedTag   = regexp.MustCompile(`^[^:@]+(:[^@]*[0-9][^@]*)?(@sha256:[0-9a-f]{64})?$`)
	urlArg      = regexp.MustCompile(`(?i)\bhttps?://`)
	aptInstall  = regexp.MustCompile(`apt-get\s+(-\S+\s+)*install`)
	goImageTag  = regexp.MustCompile(`^golang:(\d+\.\d+(?:\.\d+)?)`)
	cgoDisabled = regexp.MustCompile(`\bCGO_ENABLED=0\b`)
)

// lintDockerfile applies the hadolint rules that matter for this image, by their hadolint
// numbers where they have one, and hush's own (HUSH...): a pinned base, a non-root user,
// no ADD, a health check in exec form, exec-form entry point, a static build.
func lintDockerfile(text, goVersion string) []string {
	stages, err := parseDockerfile(text)
	if err != nil {
		return []string{"parse: " + err.Error()}
	}
	var problems []string
	add := func(in instruction, rule, msg string) {
		problems = append(problems, fmt.Sprintf("line %d: %s %s", in.line, rule, msg))
	}
	names := map[string]bool{}
	for i, st := range stages {
		from := st.ins[0]
		switch {
		case st.image == "scratch", names[st.image]:
		case strings.Contains(st.image, "$"):
			add(from, "DL3006", "base image "+st.image+" is not literal: pin it")
		case !strings.Contains(st.image, ":") && !strings.Contains(st.image, "@"):
			add(from, "DL3006", "base image "+st.image+" has no tag: pin a version or digest")
		case strings.HasSuffix(st.image, ":latest"):
			add(from, "DL3007", "base image "+st.image+" uses latest: pin a version or digest")
		case !pinnedTag.MatchString(st.image):
			add(from, "HUSH001", "base image "+st.image+" is not pinned to a version or digest")
		}
		if m := goImageTag.FindStringSubmatch(st.image); m != nil && goVersion != "" && versionLess(m[1], goVersion) {
			add(from, "HUSH002", fmt.Sprintf("builder Go %s is older than go.mod's %s", m[1], goVersion))
		}
		if st.name != "" {
			if names[st.name] {
				add(from, "DL3024", "stage name "+st.name+" used twice")
			}
			names[st.name] = true
		}
		final := i == len(stages)-1
		user, health := "", false
		workdir := false
		for _, in := range st.ins[1:] {
			switch in.cmd {
			case "ADD":
				if urlArg.MatchString(in.args) {
					add(in, "DL3020", "ADD of a URL: download in a build stage and verify a checksum")
				} else {
					add(in, "DL3020", "use COPY for files and folders")
				}
			case "COPY":
				if from, ok := in.flags["from"]; ok && !names[from] {
					add(in, "DL3022", "COPY --from="+from+" names no earlier stage")
				}
				f := strings.Fields(in.args)
				if dst := f[len(f)-1]; !strings.HasPrefix(dst, "/") && !workdir {
					add(in, "DL3045", "COPY to a relative path without WORKDIR")
				}
			case "WORKDIR":
				workdir = true
				if !strings.HasPrefix(in.args, "/") && !strings.HasPrefix(in.args, "$") {
					add(in, "DL3000", "WORKDIR must be absolute")
				}
			case "RUN":
				if strings.Contains(in.args, "sudo ") {
					add(in, "DL3004", "do not use sudo")
				}
				if aptInstall.MatchString(in.args) && !strings.Contains(in.args, "--no-install-recommends") {
					add(in, "DL3015", "apt-get install without --no-install-recommends")
				}
				if strings.Contains(in.args, "go build") && !cgoDisabled.MatchString(stageEnv(st)+" "+in.args) {
					add(in, "HUSH003", "go build without CGO_ENABLED=0: the binary would need libc")
				}
				if strings.Contains(in.args, "go build") && !strings.Contains(stageEnv(st)+" "+in.args, "-trimpath") {
					add(in, "HUSH004", "go build without -trimpath")
				}
				if urlArg.MatchString(in.args) && (strings.Contains(in.args, "curl") || strings.Contains(in.args, "wget")) {
					add(in, "HUSH005", "downloads at build time: fetch through a package manager or the module proxy")
				}
			case "USER":
				user = in.args
			case "HEALTHCHECK":
				health = true
				cmd, _ := strings.CutPrefix(in.args, "CMD ")
				if _, ok := execForm(strings.TrimSpace(cmd)); !ok && in.args != "NONE" {
					add(in, "HUSH006", "HEALTHCHECK CMD in shell form: a static image has no shell")
				}
			case "ENTRYPOINT", "CMD":
				if _, ok := execForm(in.args); !ok {
					add(in, "DL3025", in.cmd+" in shell form: use the JSON (exec) form")
				}
			case "MAINTAINER":
				add(in, "DL4000", "MAINTAINER is deprecated")
			}
		}
		if final {
			u, _, _ := strings.Cut(user, ":")
			switch u {
			case "":
				add(from, "DL3002", "the final stage sets no USER: it would run as root")
			case "root", "0":
				add(from, "DL3002", "the final stage runs as root")
			}
			if !health {
				add(from, "HUSH007", "the final stage has no HEALTHCHECK")
			}
		}
	}
	return problems
}

// stageEnv is the ENV text of a stage, for rules that accept a setting there.
func stageEnv(st stage) string {
	var b strings.Builder
	for _, in := range st.ins {
		if in.cmd == "ENV" {
			b.WriteString(in.args + " ")
		}
	}
	return b.String()
}

// versionLess compares dotted versions ("1.26" < "1.26.8").
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(pa), len(pb)) {
		var x, y int
		if i < len(pa) {
			x = atoi(pa[i])
		}
		if i < len(pb) {
			y = atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

func dockerfile(t testing.TB) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root(t), "deploy", "docker", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func goModVersion(t testing.TB) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(raw)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	return string(m[1])
}

// The Dockerfile passes the lint rules: bases pinned, no ADD, a non-root user, a health
// check and entry point in exec form, a static trimmed build with the Go go.mod asks for.
func TestDockerfileLint(t *testing.T) {
	if p := lintDockerfile(dockerfile(t), goModVersion(t)); len(p) > 0 {
		t.Errorf("Dockerfile:\n%s", strings.Join(p, "\n"))
	}
}

// Each rule catches what it is for.
func TestDockerfileLintCatches(t *testing.T) {
	good := "FROM golang:1.26.8-bookworm AS build\nWORKDIR /src\nENV CGO_ENABLED=0\nRUN go build -trimpath -o out/ ./cmd/hushd\n" +
		"FROM scratch\nCOPY --from=build /src/out/hushd /hushd\nUSER 65532:65532\n" +
		"HEALTHCHECK CMD [\"/hushd\", \"-h\"]\nENTRYPOINT [\"/hushd\"]\n"
	if p := lintDockerfile(good, "1.26.8"); len(p) > 0 {
		t.Fatalf("the good example fails: %v", p)
	}
	for rule, edit := range map[string][2]string{
		"DL3006":  {"golang:1.26.8-bookworm", "golang"},
		"DL3007":  {"golang:1.26.8-bookworm", "golang:latest"},
		"HUSH001": {"golang:1.26.8-bookworm", "golang:bookworm"},
		"HUSH002": {"golang:1.26.8-bookworm", "golang:1.25-bookworm"},
		"DL3002":  {"USER 65532:65532", "USER root"},
		"DL3020":  {"COPY --from=build /src/out/hushd /hushd", "ADD https://example.com/hushd /hushd"},
		"DL3022":  {"--from=build", "--from=builder"},
		"DL3000":  {"WORKDIR /src", "WORKDIR src"},
		"DL3025":  {`ENTRYPOINT ["/hushd"]`, "ENTRYPOINT /hushd"},
		"HUSH003": {"ENV CGO_ENABLED=0", "ENV GOOS=linux"},
		"HUSH004": {"go build -trimpath", "go build"},
		"HUSH006": {`HEALTHCHECK CMD ["/hushd", "-h"]`, "HEALTHCHECK CMD /hushd -h || exit 1"},
		"HUSH007": {`HEALTHCHECK CMD ["/hushd", "-h"]`, ""},
		"DL3015":  {"RUN go build", "RUN apt-get install -y git && go build"},
	} {
		bad := strings.Replace(good, edit[0], edit[1], 1)
		if bad == good {
			t.Fatalf("%s: edit did not apply", rule)
		}
		p := lintDockerfile(bad, "1.26.8")
		if !strings.Contains(strings.Join(p, "\n"), " "+rule+" ") {
			t.Errorf("%s not reported for %q: %v", rule, edit[1], p)
		}
	}
}
