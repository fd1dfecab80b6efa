package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// Hush drives a hushd over its gRPC SessionService.
type Hush struct {
	conn   *grpc.ClientConn
	client hushv1.SessionServiceClient
	pid    int
	run    string        // distinguishes call ids of hushload processes against one hushd
	seq    atomic.Uint64 // distinguishes calls within it: a repeated request_id would
	// return the first (long deleted) session, as CreateSession is idempotent
}

// NewHush connects to hushd's gRPC address (plaintext: the harness runs on loopback). pid is
// hushd's process id for CPU and memory, 0 if unknown.
func NewHush(addr string, pid int) (*Hush, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("%w: hush: %v", ErrTarget, err)
	}
	return &Hush{conn: conn, client: hushv1.NewSessionServiceClient(conn), pid: pid,
		run: strconv.FormatInt(time.Now().UnixNano()%1e9, 36)}, nil
}

func (h *Hush) Name() string { return "hush" }
func (h *Hush) PID() int     { return h.pid }

// Close closes the gRPC connection.
func (h *Hush) Close() error { return h.conn.Close() }

// CreateCall creates a session with both remotes given, so no leg latches and no packet is
// lost to latching.
func (h *Hush) CreateCall(ctx context.Context, i int, customer, agent netip.AddrPort) (Call, error) {
	id := fmt.Sprintf("load-%s-%d-%d", h.run, h.seq.Add(1), i)
	s, err := h.client.CreateSession(ctx, &hushv1.CreateSessionRequest{
		CallId:    id,
		RequestId: id,
		AgentId:   fmt.Sprintf("load-agent-%d", i),
		Customer:  &hushv1.Leg{RemoteAddr: customer.String()},
		Agent:     &hushv1.Leg{RemoteAddr: agent.String()},
	})
	if err != nil {
		return Call{}, fmt.Errorf("%w: hush CreateSession: %v", ErrTarget, err)
	}
	cin, err1 := netip.ParseAddrPort(s.GetCustomer().GetLocalAddr())
	ain, err2 := netip.ParseAddrPort(s.GetAgent().GetLocalAddr())
	if err1 != nil || err2 != nil {
		return Call{}, fmt.Errorf("%w: hush: session local addresses %q %q", ErrTarget,
			s.GetCustomer().GetLocalAddr(), s.GetAgent().GetLocalAddr())
	}
	sid := s.GetSessionId()
	return Call{ID: sid, CustomerIn: cin, AgentIn: ain, Close: func(ctx context.Context) error {
		_, err := h.client.DeleteSession(ctx, &hushv1.DeleteSessionRequest{SessionId: sid})
		return err
	}}, nil
}

// SetCapture starts or stops secure capture on the call's session.
func (h *Hush) SetCapture(ctx context.Context, c Call, on bool) error {
	var err error
	if on {
		_, err = h.client.StartSecureCapture(ctx, &hushv1.StartSecureCaptureRequest{SessionId: c.ID})
	} else {
		_, err = h.client.StopSecureCapture(ctx, &hushv1.StopSecureCaptureRequest{SessionId: c.ID})
	}
	return err
}

// Process is a relay process started by the harness.
type Process struct {
	cmd  *exec.Cmd
	done chan error
	Addr string // hushd: gRPC address; rtpengine: ng address
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

var hushdServing = regexp.MustCompile(`msg="hushd serving" grpc=(\S+)`)

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
	return startProcess(ctx, bin, args, logw, hushdServing)
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
					found <- addr
					continue
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
