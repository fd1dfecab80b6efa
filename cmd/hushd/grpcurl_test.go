package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// grpcurlPath finds grpcurl, skipping (or failing in CI) when it is missing.
func grpcurlPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("grpcurl")
	if err != nil {
		const how = "grpcurl missing: go install github.com/fullstorydev/grpcurl/cmd/grpcurl (make tools)"
		if os.Getenv("CI") == "true" {
			t.Fatal(how)
		}
		t.Skip(how)
	}
	return p
}

// grpcurl runs grpcurl against addr; args are flags, then the method (or "list") last.
func grpcurl(t *testing.T, bin, addr string, args ...string) []byte {
	t.Helper()
	flags, method := args[:len(args)-1], args[len(args)-1]
	argv := append([]string{"-plaintext", "-max-time", "10"}, flags...)
	argv = append(argv, addr, method)
	cmd := exec.Command(bin, argv...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("grpcurl %v: %v\n%s", argv, err, stderr.String())
	}
	return out
}

// TestGrpcurl drives a create/forward/delete through grpcurl and server reflection, as an
// operator would: an independent client that knows the API only from what hushd serves.
func TestGrpcurl(t *testing.T) {
	bin := grpcurlPath(t)
	d := startDaemon(t)
	addr := d.ready.GRPC

	list := string(grpcurl(t, bin, addr, "list"))
	for _, svc := range []string{"hush.v1.SessionService", "hush.v1.PaymentService", "hush.v1.RecordingService", "hush.v1.AdminService", "grpc.health.v1.Health"} {
		if !strings.Contains(list, svc) {
			t.Fatalf("grpcurl list lacks %s:\n%s", svc, list)
		}
	}
	health := string(grpcurl(t, bin, addr, "-d", `{"service":"hush.v1.SessionService"}`, "grpc.health.v1.Health/Check"))
	if !strings.Contains(health, "SERVING") {
		t.Fatalf("health: %s", health)
	}

	cust := newEndpoint(t, "udp4", "127.0.0.1:0")
	agent := newEndpoint(t, "udp4", "127.0.0.1:0")
	req := `{"call_id":"grpcurl-call","request_id":"g1","customer":{"remote_addr":"` + cust.addr().String() +
		`"},"agent":{"remote_addr":"` + agent.addr().String() + `"}}`
	var created struct {
		SessionID string `json:"sessionId"`
		Customer  struct {
			LocalAddr string `json:"localAddr"`
		} `json:"customer"`
	}
	if err := json.Unmarshal(grpcurl(t, bin, addr, "-d", req, "hush.v1.SessionService/CreateSession"), &created); err != nil {
		t.Fatal(err)
	}
	if created.SessionID == "" || created.Customer.LocalAddr == "" {
		t.Fatalf("create gave %+v", created)
	}

	pkt := newStream(7).next(t)
	cust.send(created.Customer.LocalAddr, pkt)
	if got, _ := agent.recv(); !bytes.Equal(got, pkt) {
		t.Fatal("packet not forwarded")
	}

	del := string(grpcurl(t, bin, addr, "-d", `{"session_id":"`+created.SessionID+`"}`, "hush.v1.SessionService/DeleteSession"))
	if !strings.Contains(del, "SESSION_STATE_ENDED") || !strings.Contains(del, "END_REASON_DELETED") || !strings.Contains(del, `"rtpPacketsReceived": "1"`) {
		t.Fatalf("delete answered:\n%s", del)
	}
}
