package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a relay process started by the harness.
type Process struct {
	cmd  *exec.Cmd
	done chan error
	Addr string // hushd: gRPC address; rtpengine: ng address
	HTTP string // hushd: HTTP address (/metrics)
	NG   string // hushd: ng listener address, when it serves one
	// Engine is hushd's media engine from its start-up log ("media engine" line).
	Engine string
	// LogPath is the file that holds everything the process wrote (stderr and stdout):
	// kept when it died or exited with an error (Stop says so), removed otherwise.
	LogPath string
	tail    *lineTail
}

// ErrDied: a started relay exited before the harness stopped it, or stopped with an
// error; its log is kept (Process.LogPath).
var ErrDied = errors.New("loadgen: relay process died")

// exited reports whether the process has ended (without consuming its exit status
// for good: it is put back for Stop).
func (p *Process) exited() bool {
	select {
	case err := <-p.done:
		p.done <- err
		return true
	default:
		return false
	}
}

// PID is the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Stop sends SIGTERM, waits up to 10 s, then kills. A process that had exited by itself
// before, or that exits with an error, is reported (ErrDied) with the end of its log, and
// its log file is kept; otherwise the log file is removed.
func (p *Process) Stop() error {
	var err error
	if p.exited() {
		err = <-p.done
		err = fmt.Errorf("%w: %s exited during the run (%v)", ErrDied, filepath.Base(p.cmd.Path), exitStatus(err))
	} else {
		_ = p.cmd.Process.Signal(termSignal)
		select {
		case err = <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			err = <-p.done
		}
		if err != nil && !terminated(err) {
			err = fmt.Errorf("%w: %s stopped with %v", ErrDied, filepath.Base(p.cmd.Path), err)
		} else {
			err = nil
		}
	}
	if err == nil {
		if p.LogPath != "" {
			_ = os.Remove(p.LogPath)
		}
		return nil
	}
	return fmt.Errorf("%w; its log: %s; its last lines:\n%s", err, p.LogPath, p.tail.String())
}

// terminated reports an exit by the SIGTERM Stop sent, not by an error of its own.
func terminated(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(interface {
		Signaled() bool
		Signal() syscall.Signal
	})
	return ok && ws.Signaled() && ws.Signal() == termSignal
}

func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// lineTail keeps the last lines a process wrote, for a report when it dies.
type lineTail struct {
	mu    sync.Mutex
	lines []string
	next  int
	full  bool
}

func newLineTail(n int) *lineTail { return &lineTail{lines: make([]string, n)} }

func (t *lineTail) add(l string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines[t.next] = l
	t.next = (t.next + 1) % len(t.lines)
	t.full = t.full || t.next == 0
}

func (t *lineTail) String() string {
	if t == nil {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	if t.full {
		out = append(out, t.lines[t.next:]...)
	}
	out = append(out, t.lines[:t.next]...)
	return strings.Join(out, "\n")
}

// tailLines is how many of its last lines a dead process's report shows.
const tailLines = 40

var (
	hushdServing = regexp.MustCompile(`msg="hushd serving" grpc=(\S+) http=(\S+)`)
	hushdEngine  = regexp.MustCompile(`msg="media engine" engine=(\S+)`)
	hushdNG      = regexp.MustCompile(`msg="hushd serving" .* ng=([0-9a-fA-F.:\[\]]+)`)
)

// StartHushd runs the hushd binary on loopback with a free gRPC port, media ports
// [portMin, portMax], no recording and no rate limit, plus extra flags, and waits until it
// logs that it serves. Its log goes to logw after start-up.
func StartHushd(ctx context.Context, bin string, portMin, portMax int, extra []string, logw io.Writer) (*Process, error) {
	args := append([]string{
		"--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--media-port-min", strconv.Itoa(portMin), "--media-port-max", strconv.Itoa(portMax),
		"--recording-enabled=false", "--audit-file=", "--session-drain-timeout", "0s",
		"--auth-rate-limit", "0",
	}, extra...)
	args = append(args, readableLog(extra, os.Getenv("HUSH_LOG_LEVEL"))...)
	return startProcess(ctx, bin, args, logw, hushdServing)
}

// readableLog returns the flags, put last so they win, that keep the lines StartHushd
// reads (the info-level "hushd serving" line, in text format) whatever the extra flags or
// the environment (envLevel: HUSH_LOG_LEVEL) ask for. A debug level is kept.
func readableLog(extra []string, envLevel string) []string {
	level := envLevel
	for i, a := range extra {
		switch {
		case (a == "--log-level" || a == "-log-level") && i+1 < len(extra):
			level = extra[i+1]
		case strings.HasPrefix(a, "--log-level="), strings.HasPrefix(a, "-log-level="):
			level = a[strings.IndexByte(a, '=')+1:]
		}
	}
	out := []string{"--log-format=text"}
	if !strings.EqualFold(level, "debug") {
		out = append(out, "--log-level=info")
	}
	return out
}

// startProcess starts bin and waits for a stderr line matching ready; its first submatch,
// if any, becomes Addr.
func startProcess(ctx context.Context, bin string, args []string, logw io.Writer, ready *regexp.Regexp) (*Process, error) {
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = processAttr()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTarget, err)
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: start %s: %v", ErrTarget, bin, err)
	}
	p := &Process{cmd: cmd, done: make(chan error, 1), tail: newLineTail(tailLines)}
	// Everything the process writes goes to a file too: when it dies mid-run, the
	// harness reports where its last words are instead of losing them.
	logf, err := os.CreateTemp("", "hushload-"+filepath.Base(bin)+"-*.log")
	if err == nil {
		p.LogPath = logf.Name()
	}
	found := make(chan string, 1)
	if ready == nil { // the caller checks readiness itself
		found <- ""
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		// A long line (a goroutine dump's, a huge value) must not end the reading: an
		// unread pipe would block the process on its next write.
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		sent := ready == nil
		var head []string
		for sc.Scan() {
			l := sc.Text()
			p.tail.add(l)
			if logf != nil {
				fmt.Fprintln(logf, l)
			}
			if !sent {
				if m := ready.FindStringSubmatch(l); m != nil {
					sent = true
					addr := ""
					if len(m) > 1 {
						addr = m[1]
					}
					if len(m) > 2 {
						p.HTTP = m[2]
					}
					if n := hushdNG.FindStringSubmatch(l); n != nil {
						p.NG = n[1]
					}
					found <- addr
					continue
				}
				if m := hushdEngine.FindStringSubmatch(l); m != nil {
					p.Engine = m[1]
				}
				if len(head) < 50 {
					head = append(head, l)
				}
				continue
			}
			if logw != nil {
				fmt.Fprintln(logw, l)
			}
		}
		// Whatever follows a line too long to scan is still read, into the log file.
		if logf != nil {
			_, _ = io.Copy(logf, stderr)
			_ = logf.Close()
		} else {
			_, _ = io.Copy(io.Discard, stderr)
		}
		if !sent {
			for _, l := range head {
				if logw != nil {
					fmt.Fprintln(logw, l)
				}
			}
		}
		p.done <- cmd.Wait()
		close(found)
	}()
	select {
	case addr, ok := <-found:
		if !ok || (ready == nil && p.exited()) {
			return nil, fmt.Errorf("%w: %s exited before it was ready; its log: %s", ErrTarget, bin, p.LogPath)
		}
		p.Addr = addr
		return p, nil
	case <-time.After(30 * time.Second):
	case <-ctx.Done():
	}
	_ = cmd.Process.Kill()
	return nil, fmt.Errorf("%w: %s did not become ready; its log: %s", ErrTarget, bin, p.LogPath)
}
