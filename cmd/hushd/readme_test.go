package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readmeBlock is a ```sh block of README.md that a <!-- readme-test: KIND --> comment marks.
type readmeBlock struct {
	kind  string
	lines []string // logical command lines: continuations joined, comments and blanks dropped
}

var readmeMarker = regexp.MustCompile(`^<!-- readme-test: (\w+) -->$`)

// readmeBlocks returns the marked blocks of the README in order.
func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var blocks []readmeBlock
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		m := readmeMarker.FindStringSubmatch(strings.TrimSpace(lines[i]))
		if m == nil {
			continue
		}
		j := i + 1
		for j < len(lines) && strings.TrimSpace(lines[j]) == "" {
			j++
		}
		if j >= len(lines) || strings.TrimSpace(lines[j]) != "```sh" {
			t.Fatalf("README.md:%d: readme-test marker not followed by a ```sh block", i+1)
		}
		blk := readmeBlock{kind: m[1]}
		var cont string
		for j++; j < len(lines) && strings.TrimSpace(lines[j]) != "```"; j++ {
			l := cont + lines[j]
			if strings.HasSuffix(l, "\\") {
				cont = strings.TrimSuffix(l, "\\")
				continue
			}
			cont = ""
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				blk.lines = append(blk.lines, l)
			}
		}
		blocks = append(blocks, blk)
		i = j
	}
	return blocks
}

// command drops a trailing "# comment" (outside quotes) from a README line.
func command(line string) string {
	inS, inD := false, false
	for i, c := range line {
		switch {
		case c == '\'' && !inD:
			inS = !inS
		case c == '"' && !inS:
			inD = !inD
		case c == '#' && !inS && !inD && i > 0 && line[i-1] == ' ':
			return strings.TrimSpace(line[:i])
		}
	}
	return line
}

// TestREADMEWalkthrough follows the README's quick start and walkthrough as a new user
// would, with the commands exactly as the README writes them: build, hushd --version, start
// hushd, then the client blocks in one shell, one command at a time, waiting (as a reader
// does) for a background command's first line before typing on. hushd gets free ports
// (the README's 127.0.0.1:50051 is rewritten to them) and a scratch directory; `make build`
// and `make tools` are done by the test (the same go build, and the grpcurl on PATH).
func TestREADMEWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds hushd and hushctl; skipped with -short")
	}
	var server []string
	var client [][]string
	for _, b := range readmeBlocks(t) {
		switch b.kind {
		case "server":
			server = append(server, b.lines...)
		case "client":
			client = append(client, b.lines)
		}
	}
	if len(server) == 0 || len(client) == 0 {
		t.Fatalf("README.md has no readme-test server or client blocks (%d, %d)", len(server), len(client))
	}
	grpcurl := grpcurlPath(t)

	dir := t.TempDir()
	makefile, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	const buildRecipe = "build:\n\t$(GO) build -o bin/ ./cmd/...\n"
	if !strings.Contains(string(makefile), buildRecipe) {
		t.Fatalf("Makefile's build target is no longer %q: teach this test what make build does", buildRecipe)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "bin")+"/", "./cmd/...")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/...: %v\n%s", err, out)
	}

	// The server block: make build (done), hushd --version, hushd.
	var hushd *exec.Cmd
	grpcAddr := ""
	for _, l := range server {
		switch cmd := command(l); cmd {
		case "make build":
		case "bin/hushd --version":
			out, err := runIn(dir, "bin/hushd", "--version")
			if err != nil || !strings.HasPrefix(out, "hushd ") {
				t.Fatalf("bin/hushd --version: %v: %q", err, out)
			}
		case "bin/hushd":
			hushd, grpcAddr = startREADMEHushd(t, dir)
		default:
			t.Fatalf("README server block: this test does not know how to run %q", cmd)
		}
	}
	if hushd == nil {
		t.Fatal("the README's server block never starts bin/hushd")
	}

	// The client blocks, in one shell as a user's second terminal.
	if err := os.Mkdir(filepath.Join(dir, ".bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(grpcurl, filepath.Join(dir, ".bin", "grpcurl")); err != nil {
		t.Fatal(err)
	}
	sh := newShell(t, dir, grpcAddr)
	var transcript strings.Builder
	for _, blk := range client {
		for _, l := range blk {
			cmd := command(l)
			if cmd == "make tools" {
				continue // grpcurl is linked into .bin already
			}
			if strings.HasPrefix(cmd, "make ") {
				t.Fatalf("README client block: this test does not know how to run %q", cmd)
			}
			cmd = strings.ReplaceAll(cmd, "127.0.0.1:50051", grpcAddr)
			out, rc := sh.run(cmd)
			fmt.Fprintf(&transcript, "$ %s\n%s", cmd, out)
			if rc != 0 {
				t.Fatalf("README command failed (exit %d):\n%s", rc, transcript.String())
			}
		}
	}
	out, _ := sh.run("wait") // the background watch ends with the session
	transcript.WriteString(out)
	sh.close()
	log := transcript.String()
	t.Logf("the walkthrough, as a user sees it:\n%s", log)
	for _, want := range []string{"a84b4c76e66710@pbx", " snapshot ", "recording paused", "recording active",
		"ended deleted", "hush.v1.SessionService"} {
		if !strings.Contains(log, want) {
			t.Errorf("the walkthrough's output lacks %q:\n%s", want, log)
		}
	}

	// Ctrl-C: hushd drains (nothing is left) and exits 0, having written its audit log and
	// the call's recording where the start-up line said.
	if err := hushd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := waitExit(hushd, wait); err != nil {
		t.Fatalf("hushd after Ctrl-C: %v", err)
	}
	if st, err := os.Stat(filepath.Join(dir, "audit", "hush-audit.jsonl")); err != nil || st.Size() == 0 {
		t.Errorf("audit log in ./audit: %v", err)
	}
	recs := 0
	filepath.WalkDir(filepath.Join(dir, "recordings"), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(d.Name(), ".wav") {
			recs++
		}
		return nil
	})
	if recs != 1 {
		t.Errorf("%d recordings under ./recordings, want the walkthrough's call", recs)
	}
}

// TestREADMEPackages: the Debian packages the README tells a user to install are the ones
// .ci/run installs, and the tools come before make test.
func TestREADMEPackages(t *testing.T) {
	var readme []string
	var lines []string
	for _, b := range readmeBlocks(t) {
		if b.kind == "packages" {
			lines = append(lines, b.lines...)
		}
	}
	for _, l := range lines {
		if f := strings.Fields(command(l)); slices.Contains(f, "apt-get") {
			i := slices.Index(f, "install")
			for _, w := range f[i+1:] {
				if !strings.HasPrefix(w, "-") {
					readme = append(readme, w)
				}
			}
		}
	}
	run, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)\npackages=\((.*?)\n\)`).FindSubmatch(run)
	if m == nil {
		t.Fatal(".ci/run has no packages=( ... ) list")
	}
	var ci []string
	for _, l := range strings.Split(string(m[1]), "\n") {
		l, _, _ = strings.Cut(l, "#")
		ci = append(ci, strings.Fields(l)...)
	}
	slices.Sort(readme)
	slices.Sort(ci)
	if len(ci) == 0 || !slices.Equal(readme, ci) {
		t.Fatalf("README installs %v\n.ci/run installs %v", readme, ci)
	}
	tools, test := -1, -1
	for i, l := range lines {
		switch command(l) {
		case "make tools":
			tools = i
		case "make test":
			test = i
		}
	}
	if tools < 0 || test < 0 || tools > test {
		t.Fatalf("README's test steps %q: make tools must come before make test", lines)
	}
}

func runIn(dir, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// startREADMEHushd runs bin/hushd in dir as the README does, on free ports, and returns it
// once it serves, with its gRPC address.
func startREADMEHushd(t *testing.T, dir string) (*exec.Cmd, string) {
	t.Helper()
	lo, hi := mediaRange(t, 40)
	cmd := exec.Command("bin/hushd", "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--media-port-min", itoa(lo), "--media-port-max", itoa(hi))
	cmd.Dir = dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var seen strings.Builder
	deadline := time.After(wait)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("hushd exited before serving:\n%s", seen.String())
			}
			seen.WriteString(l + "\n")
			if m := servingLine.FindStringSubmatch(l); m != nil {
				go func() { // keep draining so hushd never blocks on its log
					for range lines {
					}
				}()
				return cmd, m[1]
			}
		case <-deadline:
			t.Fatalf("hushd did not report serving:\n%s", seen.String())
		}
	}
}

// waitExit waits for cmd to exit, at most d.
func waitExit(cmd *exec.Cmd, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		_ = cmd.Process.Kill()
		return fmt.Errorf("still running after %v", d)
	}
}

// shell is a bash reading commands one at a time, as a terminal does.
type shell struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	cancel context.CancelFunc
	n      int
}

func newShell(t *testing.T, dir, grpcAddr string) *shell {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc")
	cmd.Dir = dir
	// hushctl's default address is the README's 127.0.0.1:50051; this hushd is elsewhere.
	cmd.Env = append(os.Environ(), "HUSHCTL_ADDR="+grpcAddr)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &shell{t: t, cmd: cmd, stdin: stdin, lines: make(chan string, 1000), cancel: cancel}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	go func() { _ = cmd.Wait(); pw.Close() }()
	t.Cleanup(s.close)
	return s
}

// run types one command and returns its output and exit status. A background command
// (ending in &) is done when it has printed its first line, as a reader waits to see it.
func (s *shell) run(command string) (string, int) {
	s.t.Helper()
	s.n++
	marker := fmt.Sprintf("__readme_done_%d__", s.n)
	background := strings.HasSuffix(command, "&")
	if _, err := fmt.Fprintf(s.stdin, "%s\necho %s $?\n", command, marker); err != nil {
		s.t.Fatalf("shell: %v", err)
	}
	var out strings.Builder
	rc, done, printed := -1, false, false
	deadline := time.After(30 * time.Second)
	for !done || (background && !printed) {
		select {
		case l, ok := <-s.lines:
			if !ok {
				s.t.Fatalf("the shell exited during %q:\n%s", command, out.String())
			}
			if rest, found := strings.CutPrefix(l, marker+" "); found {
				fmt.Sscan(rest, &rc)
				done = true
				continue
			}
			out.WriteString(l + "\n")
			printed = true
		case <-deadline:
			s.t.Fatalf("%q did not finish:\n%s", command, out.String())
		}
	}
	return out.String(), rc
}

func (s *shell) close() {
	if s.stdin != nil {
		s.stdin.Close()
		s.stdin = nil
	}
	s.cancel()
}
