package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// buildHushctl compiles hushctl for tests that run it as an operator or a probe would.
func buildHushctl(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds hushctl; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "hushctl")
	if out, err := exec.Command("go", "build", "-o", bin, "../hushctl").CombinedOutput(); err != nil {
		t.Fatalf("go build hushctl: %v\n%s", err, out)
	}
	return bin
}

// probe runs `hushctl health` as a container health check does and returns its exit status
// and output.
func probe(t *testing.T, bin, addr string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--addr", addr, "--timeout", "3s", "health"}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String()
	}
	t.Fatalf("hushctl health: %v", err)
	return -1, ""
}

// The health-only listener answers plaintext probes while the API needs TLS, serves
// nothing but health, and turns the session service NOT_SERVING when a drain starts, which
// `hushctl health` reports with exit 1.
func TestHealthListenerAndProbe(t *testing.T) {
	bin := buildHushctl(t)
	pool, certFile, keyFile := serverPKI(t, t.TempDir())
	d := startDaemon(t, "--grpc-health-listen", "127.0.0.1:0", "--tls-cert-file", certFile, "--tls-key-file", keyFile)
	if d.ready.Health == "" || d.ready.Health == d.ready.GRPC {
		t.Fatalf("health listener %q (API %q)", d.ready.Health, d.ready.GRPC)
	}
	if !strings.Contains(d.log.String(), "health="+d.ready.Health) {
		t.Errorf("the serving line does not name the health listener:\n%s", d.log)
	}

	// The API listener is TLS: a plaintext probe there fails, the health listener answers.
	if code, out := probe(t, bin, d.ready.GRPC); code != 1 {
		t.Errorf("plaintext probe of the TLS API listener: exit %d\n%s", code, out)
	}
	for _, svc := range []string{"", "hush.v1.SessionService"} {
		if code, out := probe(t, bin, d.ready.Health, "--service", svc); code != 0 || strings.TrimSpace(out) != "SERVING" {
			t.Errorf("health --service %q: exit %d, %q", svc, code, out)
		}
	}
	if code, out := probe(t, bin, d.ready.Health, "--service", "no.such.Service"); code != 1 || !strings.Contains(out, "NotFound") {
		t.Errorf("unknown service: exit %d, %q", code, out)
	}

	// Nothing but health is reachable there, authenticated or not.
	cc, err := grpc.NewClient(d.ready.Health, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	_, err = hushv1.NewSessionServiceClient(cc).ListSessions(d.ctx(), &hushv1.ListSessionsRequest{})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("ListSessions on the health listener: %v, want Unimplemented", err)
	}
	_, err = hushv1.NewAdminServiceClient(cc).Drain(d.ctx(), &hushv1.DrainRequest{Deadline: durationpb.New(time.Minute)})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("Drain on the health listener: %v, want Unimplemented", err)
	}

	// A drain (here the Admin API, as SIGTERM does) takes new calls elsewhere: the session
	// service is NOT_SERVING at once, the server as a whole still SERVING until it exits.
	api, err := grpc.NewClient(d.ready.GRPC, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool})))
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	if _, err := hushv1.NewAdminServiceClient(api).Drain(d.ctx(), &hushv1.DrainRequest{Deadline: durationpb.New(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if code, out := probe(t, bin, d.ready.Health, "--service", "hush.v1.SessionService"); code != 1 || !strings.Contains(out, "NOT_SERVING") {
		t.Errorf("session service while draining: exit %d, %q", code, out)
	}
	if code, out := probe(t, bin, d.ready.Health, "--json"); code != 0 || !strings.Contains(out, `"status":"SERVING"`) {
		t.Errorf("server while draining: exit %d, %q", code, out)
	}
}
