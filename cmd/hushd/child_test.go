package main

import (
	"bufio"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// child is hushd running as its own process (the built binary), for tests that look at
// the process from outside: its memory, its file descriptors, its limits.
type child struct {
	cmd        *exec.Cmd
	grpc, http string
	mu         sync.Mutex
	log        strings.Builder
}

var httpServingLine = regexp.MustCompile(`msg="hushd serving" .*http=(\S+)`)

// startChild runs bin with args (through sh when shell is set, e.g. to lower a limit
// with ulimit first) and waits for it to serve.
func startChild(t *testing.T, bin string, shell string, args ...string) *child {
	t.Helper()
	var cmd *exec.Cmd
	if shell != "" {
		cmd = exec.Command("sh", append([]string{"-c", shell + `; exec "$0" "$@"`, bin}, args...)...)
	} else {
		cmd = exec.Command(bin, args...)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	served := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			l := sc.Text()
			c.mu.Lock()
			c.log.WriteString(l + "\n")
			if m := servingLine.FindStringSubmatch(l); m != nil && c.grpc == "" {
				c.grpc = m[1]
				if h := httpServingLine.FindStringSubmatch(l); h != nil {
					c.http = h[1]
				}
				close(served)
			}
			c.mu.Unlock()
		}
	}()
	select {
	case <-served:
	case <-time.After(2 * wait):
		t.Fatalf("hushd did not report serving:\n%s", c.logText())
	}
	return c
}

func (c *child) logText() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.log.String()
}

func (c *child) pid() int { return c.cmd.Process.Pid }
