package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
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
}

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

// Stop sends SIGTERM, waits up to 10 s, then kills.
func (p *Process) Stop() error {
	_ = p.cmd.Process.Signal(termSignal)
	select {
	case err := <-p.done:
		return err
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		return <-p.done
	}
}

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
	p := &Process{cmd: cmd, done: make(chan error, 1)}
	found := make(chan string, 1)
	if ready == nil { // the caller checks readiness itself
		found <- ""
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := ready == nil
		var head []string
		for sc.Scan() {
			l := sc.Text()
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
			return nil, fmt.Errorf("%w: %s exited before it was ready", ErrTarget, bin)
		}
		p.Addr = addr
		return p, nil
	case <-time.After(30 * time.Second):
	case <-ctx.Done():
	}
	_ = cmd.Process.Kill()
	return nil, fmt.Errorf("%w: %s did not become ready", ErrTarget, bin)
}
