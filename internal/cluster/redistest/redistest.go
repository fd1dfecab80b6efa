// Package redistest runs a real redis-server (Debian package redis-server) for tests of
// the session directory: its own process on a free loopback port, in a temporary
// directory, with no persistence. A test can stop it, start it again empty on the same
// port, or freeze it (SIGSTOP: a Redis that accepts connections and answers nothing).
// Without redis-server the test is skipped, naming the package, except with CI=true.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/dtmf/dtmftest"
)

// Server is one redis-server process.
type Server struct {
	Addr string
	t    testing.TB
	bin  string
	dir  string
	port int

	mu  sync.Mutex
	cmd *exec.Cmd
}

// readyWait bounds how long redis-server may take to accept connections.
const readyWait = 10 * time.Second

// Start runs redis-server for the life of t.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, bin: dtmftest.Tool(t, "redis-server", "redis-server"), dir: t.TempDir()}
	var err error
	for range 5 { // a free port may be taken between the probe and redis-server's bind
		if s.port, err = freePort(); err != nil {
			t.Fatal(err)
		}
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	t.Cleanup(s.Stop)
	return s
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) start() error {
	cmd := exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", s.dir, "--daemonize", "no", "--loglevel", "notice")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return err
	}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		var log strings.Builder
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Ready to accept connections") {
				ready <- nil
				for sc.Scan() { // drain, so redis-server never blocks on its output
				}
				return
			}
		}
		ready <- fmt.Errorf("exited before it was ready:\n%s", log.String())
	}()
	select {
	case err := <-ready:
		if err != nil {
			_ = cmd.Wait()
			return err
		}
	case <-time.After(readyWait):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return fmt.Errorf("not ready within %v", readyWait)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	return nil
}

// Stop kills redis-server (its data is gone). It is idempotent.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT) // a frozen one must run to die
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// Restart starts redis-server again, empty, on the same port.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	var err error
	for range 20 { // the old socket may linger briefly
		if err = s.start(); err == nil {
			return
		}
	}
	s.t.Fatalf("redis-server restart: %v", err)
}

// Freeze stops redis-server in its tracks (SIGSTOP): connections are accepted by the
// kernel and nothing answers, as with a hung or overloaded Redis. Thaw resumes it.
func (s *Server) Freeze() { s.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen redis-server.
func (s *Server) Thaw() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(sig)
	}
}
