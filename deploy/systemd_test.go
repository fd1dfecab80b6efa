package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hushmedia/hush/internal/config"
)

func systemdDir(t testing.TB) string { return filepath.Join(root(t), "deploy", "systemd") }

// unitFile is a parsed unit: section -> key -> values, in order (a key may repeat).
type unitFile map[string]map[string][]string

func parseUnit(t testing.TB, path string) unitFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u, section := unitFile{}, ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s: bad line %q", path, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

// last is a key's effective value (the last assignment wins).
func (u unitFile) last(section, key string) (string, bool) {
	vs := u[section][key]
	if len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1], true
}

// buildHushd compiles hushd into dir.
func buildHushd(t testing.TB, dir string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds hushd; skipped with -short")
	}
	bin := filepath.Join(dir, "hushd")
	run(t, root(t), "go", "build", "-o", bin, "./cmd/hushd")
	return bin
}

// verifyUnit runs systemd-analyze verify on the unit text, with ExecStart pointing at a
// real hushd (verify checks the program exists), and returns what it says: systemd
// reports unknown keys and bad values as warnings with exit 0, so silence is success.
func verifyUnit(t *testing.T, analyze, hushd, unit string) string {
	t.Helper()
	dir := t.TempDir()
	unit = strings.ReplaceAll(unit, "/usr/local/bin/hushd", hushd)
	path := filepath.Join(dir, "hushd.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(analyze, "verify", path).CombinedOutput()
	return string(out)
}

// systemd-analyze verify accepts the unit without a word; a mistake would not pass.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze := debianTool(t, "systemd-analyze", "systemd")
	hushd := buildHushd(t, t.TempDir())
	raw, err := os.ReadFile(filepath.Join(systemdDir(t), "hushd.service"))
	if err != nil {
		t.Fatal(err)
	}
	if out := verifyUnit(t, analyze, hushd, string(raw)); out != "" {
		t.Errorf("systemd-analyze verify hushd.service:\n%s", out)
	}
	bad := strings.Replace(string(raw), "ProtectSystem=strict", "ProtectSystem=strikt\nProtectSytem=full", 1)
	if out := verifyUnit(t, analyze, hushd, bad); !strings.Contains(out, "ProtectSytem") || !strings.Contains(out, "strikt") {
		t.Errorf("verify did not report a misspelt key and value:\n%s", out)
	}
}

// The unit is hardened as systemd measures it (systemd-analyze security: exposure at most
// 2.0 of 10, "OK"), with the settings a reviewer looks for, and stops within its timeout:
// the drain the example configuration asks for plus hushd's closing bounds.
func TestSystemdUnitHardening(t *testing.T) {
	dir := systemdDir(t)
	u := parseUnit(t, filepath.Join(dir, "hushd.service"))
	for key, want := range map[string]string{
		"User": "hush", "Group": "hush", "NoNewPrivileges": "yes", "CapabilityBoundingSet": "",
		"AmbientCapabilities": "", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
		"PrivateDevices": "yes", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
		"ProtectControlGroups": "yes", "RestrictNamespaces": "yes", "RestrictSUIDSGID": "yes",
		"LockPersonality": "yes", "MemoryDenyWriteExecute": "yes", "SystemCallArchitectures": "native",
		"RestrictAddressFamilies": "AF_INET AF_INET6", "SystemCallErrorNumber": "EPERM",
		"KillSignal": "SIGTERM", "ExecStart": "/usr/local/bin/hushd --config /etc/hush/hushd.yaml",
	} {
		if got, ok := u.last("Service", key); !ok || got != want {
			t.Errorf("%s=%q, want %q", key, got, want)
		}
	}
	state := strings.Fields(strings.Join(u["Service"]["StateDirectory"], " "))
	for _, want := range []string{"hush", "hush/recordings", "hush/audit"} {
		if !contains(state, want) {
			t.Errorf("StateDirectory %v lacks %s", state, want)
		}
	}
	if n, _ := u.last("Service", "LimitNOFILE"); atoi(n) < 4*10000 {
		t.Errorf("LimitNOFILE=%s: 10000 sessions take 40000 sockets", n)
	}

	// The configuration the unit reads keeps its files where the unit lets it write.
	cfg := loadConfig(t, filepath.Join(dir, "hushd.yaml"), nil)
	for key, p := range map[string]string{"recording.dir": cfg.Recording.Dir, "audit.file": cfg.Audit.File} {
		if !strings.HasPrefix(p, "/var/lib/hush/") {
			t.Errorf("%s %s is outside the StateDirectory /var/lib/hush", key, p)
		}
	}
	stop, _ := u.last("Service", "TimeoutStopSec")
	if need := cfg.Session.DrainTimeout + hushdCloseBound; time.Duration(atoi(stop))*time.Second <= need {
		t.Errorf("TimeoutStopSec=%s: the drain and hushd's close take up to %v", stop, need)
	}

	analyze := debianTool(t, "systemd-analyze", "systemd")
	// --threshold counts tenths: 20 is the 2.0 the report shows.
	out, err := exec.Command(analyze, "security", "--offline=true", "--threshold=20", "--no-pager",
		filepath.Join(dir, "hushd.service")).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security: exposure over 2.0 (%v):\n%s", err, out)
	}
}

// hushdCloseBound is how long hushd takes to exit after the drain: up to 5 s for gRPC
// streams and 5 s for HTTP to close (cmd/hushd run.go).
const hushdCloseBound = 10 * time.Second

// The system call filter lets hushd run every I/O engine: io_uring (setup, enter,
// register), epoll with recvmmsg, and what its files and the Go runtime need, and it
// denies with EPERM rather than killing, since Go's start-up asks to raise RLIMIT_NOFILE.
func TestSystemdSyscallFilterAllowsEngines(t *testing.T) {
	analyze := debianTool(t, "systemd-analyze", "systemd")
	groups := syscallGroups(t, analyze)
	u := parseUnit(t, filepath.Join(systemdDir(t), "hushd.service"))
	allowed, denied := map[string]bool{}, map[string]bool{}
	for _, line := range u["Service"]["SystemCallFilter"] {
		set := allowed
		if strings.HasPrefix(line, "~") {
			set, line = denied, line[1:]
		}
		for _, name := range strings.Fields(line) {
			expand(groups, name, set)
		}
	}
	need := []string{
		"io_uring_setup", "io_uring_enter", "io_uring_register", // media.engine io_uring
		"epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_pwait2", "eventfd2", "recvmmsg", "sendmmsg", // epoll
		"socket", "bind", "setsockopt", "getsockopt", "sendto", "recvfrom", "accept4", "getsockname",
		"mmap", "munmap", "madvise", "prctl", "nanosleep", "clock_nanosleep", "futex", "clone", "clone3",
		"rt_sigaction", "rt_sigprocmask", "sigaltstack", "tgkill", "sched_getaffinity", "sched_yield", "getrandom",
		"openat", "read", "write", "pwrite64", "fsync", "fdatasync", "flock", "ftruncate", "renameat", "renameat2",
		"unlinkat", "mkdirat", "newfstatat", "fstat", "getdents64", "lseek", "fcntl", "uname", "exit_group",
	}
	for _, sc := range need {
		if !allowed[sc] || denied[sc] {
			t.Errorf("SystemCallFilter refuses %s (allowed %v, denied %v)", sc, allowed[sc], denied[sc])
		}
	}
	if !denied["prlimit64"] && !denied["setrlimit"] {
		t.Log("the filter no longer denies @resources; SystemCallErrorNumber=EPERM stays a safe default")
	}
	for _, sc := range []string{"mount", "reboot", "init_module", "kexec_load", "setuid", "ptrace", "bpf"} {
		if allowed[sc] && !denied[sc] {
			t.Errorf("SystemCallFilter allows %s", sc)
		}
	}
}

// syscallGroups parses `systemd-analyze syscall-filter`: each @group and its members.
func syscallGroups(t testing.TB, analyze string) map[string][]string {
	out := run(t, "", analyze, "syscall-filter", "--no-pager")
	groups, cur := map[string][]string{}, ""
	for line := range strings.Lines(out) {
		switch s := strings.TrimSpace(line); {
		case s == "" || strings.HasPrefix(s, "#"):
		case !strings.HasPrefix(line, " ") && strings.HasPrefix(s, "@"):
			cur = s
		case cur != "":
			groups[cur] = append(groups[cur], s)
		}
	}
	if len(groups["@system-service"]) == 0 {
		t.Fatalf("no @system-service in systemd-analyze syscall-filter:\n%s", out)
	}
	return groups
}

func expand(groups map[string][]string, name string, into map[string]bool) {
	if !strings.HasPrefix(name, "@") {
		into[name] = true
		return
	}
	for _, m := range groups[name] {
		expand(groups, m, into)
	}
}

// The sysusers.d file creates the user and group the unit runs as.
func TestSysusersCreatesTheServiceUser(t *testing.T) {
	sysusers := debianTool(t, "systemd-sysusers", "systemd")
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := run(t, "", sysusers, "--root="+dir, "--dry-run", filepath.Join(systemdDir(t), "hush.sysusers"))
	if !strings.Contains(out, "Creating group 'hush'") || !strings.Contains(out, "Creating user 'hush'") {
		t.Errorf("systemd-sysusers --dry-run:\n%s", out)
	}
}

// loadConfig loads a shipped hushd configuration as hushd does, with the given extra
// environment, and fails the test on any error.
func loadConfig(t testing.TB, path string, env []string) *config.Config {
	t.Helper()
	cfg, err := config.Load([]string{"--config", path}, nil, config.WithEnviron(env))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cfg
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func atoi(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}
