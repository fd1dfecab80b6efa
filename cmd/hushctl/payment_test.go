package main

import (
	"bytes"
	"errors"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/internal/config"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// fakePayments streams canned digit batches, or fails with err.
type fakePayments struct {
	hushv1.UnimplementedPaymentServiceServer
	mu       sync.Mutex
	requests []*hushv1.CollectDigitsRequest
	batches  []*hushv1.CapturedDigits
	err      error
}

func (f *fakePayments) CollectDigits(r *hushv1.CollectDigitsRequest, stream grpc.ServerStreamingServer[hushv1.CapturedDigits]) error {
	f.mu.Lock()
	f.requests = append(f.requests, proto.Clone(r).(*hushv1.CollectDigitsRequest))
	f.mu.Unlock()
	for _, b := range f.batches {
		if err := stream.Send(b); err != nil {
			return err
		}
	}
	return f.err
}

func (f *fakePayments) reqs() []*hushv1.CollectDigitsRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*hushv1.CollectDigitsRequest(nil), f.requests...)
}

func startPayments(t *testing.T, f *fakePayments) grpc.DialOption {
	t.Helper()
	return serve(t, func(s *grpc.Server) { hushv1.RegisterPaymentServiceServer(s, f) })
}

// testBatches is a test card number (4111 1111 1111 1111) in three
// messages, the last marking the capture complete.
func testBatches() []*hushv1.CapturedDigits {
	return []*hushv1.CapturedDigits{
		{SessionId: "s-1", Digits: []byte("4111"), CaptureTime: at(1)},
		{SessionId: "s-1", Digits: []byte("11111111"), CaptureTime: at(2)},
		{SessionId: "s-1", Digits: []byte("1111"), Complete: true, CaptureTime: at(3)},
	}
}

// digitRun finds anything digit-like that could be card data on stderr.
var digitRun = regexp.MustCompile(`[0-9]{4}`)

func TestCollect(t *testing.T) {
	f := &fakePayments{batches: testBatches()}
	r := ctl(t, startPayments(t, f), "payment", "collect", "s-1", "--request-id", "pay-1")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if r.stdout != "4111\n11111111\n1111\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	if r.stderr != "capture complete\n" {
		t.Errorf("stderr %q", r.stderr)
	}
	want := &hushv1.CollectDigitsRequest{SessionId: "s-1", RequestId: "pay-1"}
	if reqs := f.reqs(); len(reqs) != 1 || !proto.Equal(reqs[0], want) {
		t.Errorf("requests %v, want %v", reqs, want)
	}
}

// A batch without digits (e.g. the final "complete" marker) prints no line.
func TestCollectEmptyFinal(t *testing.T) {
	batches := testBatches()
	batches[2] = &hushv1.CapturedDigits{SessionId: "s-1", Complete: true, CaptureTime: at(3)}
	r := ctl(t, startPayments(t, &fakePayments{batches: batches}), "payment", "collect", "s-1")
	if r.code != exitOK || r.stdout != "4111\n11111111\n" || r.stderr != "capture complete\n" {
		t.Errorf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

// --json prints one protojson CapturedDigits per line.
func TestCollectJSON(t *testing.T) {
	want := testBatches()
	r := ctl(t, startPayments(t, &fakePayments{batches: testBatches()}), "--json", "payment", "collect", "s-1")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), r.stdout)
	}
	for i, l := range lines {
		var m hushv1.CapturedDigits
		if err := protojson.Unmarshal([]byte(l), &m); err != nil || !proto.Equal(&m, want[i]) {
			t.Errorf("line %d: %v: %s", i+1, err, l)
		}
	}
	if digitRun.MatchString(r.stderr) {
		t.Errorf("stderr holds digits: %q", r.stderr)
	}
}

// Failures name the problem on stderr, never the digits, and print no
// rejected byte to stdout.
func TestCollectFailures(t *testing.T) {
	tests := []struct {
		name    string
		f       *fakePayments
		stdout  string
		stderrs []string
	}{
		{"not found", &fakePayments{err: status.Error(codes.NotFound, "session not found")}, "",
			[]string{"NotFound", "session not found"}},
		{"permission", &fakePayments{err: status.Error(codes.PermissionDenied, "role payment required")}, "",
			[]string{"PermissionDenied"}},
		{"terminal escape", &fakePayments{batches: []*hushv1.CapturedDigits{
			{SessionId: "s-1", Digits: []byte("4111")},
			{SessionId: "s-1", Digits: []byte("5555\x1b[2J5555")},
		}}, "4111\n", []string{"not a DTMF key", "byte 4 of 12"}},
		{"broken after digits", &fakePayments{batches: testBatches()[:2], err: status.Error(codes.Unavailable, "draining")},
			"4111\n11111111\n", []string{"Unavailable", "draining"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ctl(t, startPayments(t, tt.f), "payment", "collect", "s-1")
			if r.code != exitFail {
				t.Fatalf("exit %d, want %d: %s", r.code, exitFail, r.stderr)
			}
			if r.stdout != tt.stdout {
				t.Errorf("stdout %q, want %q", r.stdout, tt.stdout)
			}
			contains(t, "stderr", r.stderr, tt.stderrs...)
			if digitRun.MatchString(r.stderr) || strings.Contains(r.stderr, "\x1b") {
				t.Errorf("stderr holds digits or the bad bytes: %q", r.stderr)
			}
		})
	}
}

// writeDigits leaves no copy of the digits behind: the message's slice and
// the reused line buffer are zero after it returns, whatever the outcome.
func TestWriteDigitsZeroes(t *testing.T) {
	zero := func(b []byte) bool { return bytes.Count(b, []byte{0}) == len(b) }
	for _, json := range []bool{false, true} {
		var out bytes.Buffer
		a := &app{stdout: &out, json: json}
		var line []byte
		var err error
		for _, m := range testBatches() {
			d := m.Digits
			if line, err = a.writeDigits(m, line); err != nil {
				t.Fatal(err)
			}
			if !zero(d) {
				t.Errorf("json=%v: message digits not zeroed: %q", json, d)
			}
			if !zero(line) {
				t.Errorf("json=%v: line buffer not zeroed: %q", json, line)
			}
		}
		if !json && out.String() != "4111\n11111111\n1111\n" {
			t.Errorf("output %q", out.String())
		}
	}
	// Rejected digits are zeroed too.
	m := &hushv1.CapturedDigits{Digits: []byte("12x4")}
	if _, err := (&app{stdout: &bytes.Buffer{}}).writeDigits(m, nil); !errors.Is(err, errDigits) {
		t.Fatalf("err %v, want errDigits", err)
	}
	if !zero(m.Digits) {
		t.Errorf("rejected digits not zeroed: %q", m.Digits)
	}
}

func TestCheckDigits(t *testing.T) {
	for _, ok := range []string{"", "0123456789", "*#", "ABCD", "4111111111111111"} {
		if err := checkDigits([]byte(ok)); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{" ", "12 34", "1\n2", "abcd", "E", "\x00", "\x1b[0m", "12\xff", "١٢"} {
		err := checkDigits([]byte(bad))
		if !errors.Is(err, errDigits) || !digitsErrText.MatchString(err.Error()) {
			t.Errorf("%q: err %v, want errDigits naming only a position", bad, err)
		}
	}
}

// digitsErrText is all a checkDigits error may say: where, never what.
var digitsErrText = regexp.MustCompile(`^captured digits: not a DTMF key: byte [0-9]+ of [0-9]+$`)

// FuzzCheckDigits: checkDigits accepts exactly the DTMF alphabet, and its
// error never quotes the input.
func FuzzCheckDigits(f *testing.F) {
	for _, s := range []string{"", "4111111111111111", "*#ABCD", "12\x1b34", "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, d []byte) {
		err := checkDigits(d)
		dtmf := strings.Trim(string(d), "0123456789*#ABCD") == ""
		if dtmf != (err == nil) {
			t.Fatalf("%q: err %v", d, err)
		}
		if err != nil && (!errors.Is(err, errDigits) || !digitsErrText.MatchString(err.Error())) {
			t.Fatalf("%q: err %v", d, err)
		}
	})
}

func TestCollectHelp(t *testing.T) {
	r := ctl(t, startPayments(t, &fakePayments{}), "payment", "collect", "--help")
	if r.code != exitOK {
		t.Fatalf("exit %d", r.code)
	}
	contains(t, "help", r.stdout, "Usage: hushctl payment collect SESSION_ID", "PCI-scoped payment clients only",
		"payment role", "stdout only", "never to stderr", "-request-id")
	r = ctl(t, startPayments(t, &fakePayments{}), "--help")
	contains(t, "usage", r.stdout, "payment collect SESSION_ID", "role payment; PCI-scoped payment clients only")
	r = ctl(t, startPayments(t, &fakePayments{}), "payment", "collect")
	if r.code != exitUsage {
		t.Errorf("no session: exit %d", r.code)
	}
	contains(t, "stderr", r.stderr, "payment collect takes 1 argument(s) SESSION_ID, got 0")
}

// Over TLS with hushd's real authorizer, only a payment token collects;
// platform and admin tokens are refused and print nothing on stdout.
func TestCollectNeedsPaymentRole(t *testing.T) {
	p := newPKI(t, t.TempDir())
	st, err := auth.NewServerTLS(config.TLS{CertFile: p.srvCert, KeyFile: p.srvKey}, config.AuthToken)
	if err != nil {
		t.Fatal(err)
	}
	const paymentToken, adminToken = "payment-token-0123456789", "admin-token-0123456789"
	tokens := auth.NewTokenStore([]auth.TokenEntry{
		{SHA256: auth.HashToken(paymentToken), Subject: "pay-1", Role: auth.RolePayment},
		{SHA256: auth.HashToken(platformToken), Subject: "sbc-1", Role: auth.RolePlatform},
		{SHA256: auth.HashToken(adminToken), Subject: "ops-1", Role: auth.RoleAdmin},
	})
	az, err := auth.NewAuthorizer(auth.Options{Mode: config.AuthToken, Tokens: tokens,
		Owner: ownerFunc(func(string) (string, bool) { return "", false })})
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(st.GRPC())),
		grpc.UnaryInterceptor(az.Unary()), grpc.StreamInterceptor(az.Stream()))
	f := &fakePayments{batches: testBatches()}
	hushv1.RegisterPaymentServiceServer(srv, f)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)

	args := []string{"--addr", lis.Addr().String(), "--ca", p.ca, "payment", "collect", "s-1"}
	r := runCtl(t, "", map[string]string{tokenEnv: paymentToken}, args...)
	if r.code != exitOK || r.stdout != "4111\n11111111\n1111\n" {
		t.Fatalf("payment token: exit %d stdout %q: %s", r.code, r.stdout, r.stderr)
	}
	for _, tok := range []string{platformToken, adminToken} {
		r := runCtl(t, "", map[string]string{tokenEnv: tok}, args...)
		if r.code != exitFail || r.stdout != "" {
			t.Errorf("%s: exit %d stdout %q", tok, r.code, r.stdout)
		}
		contains(t, "stderr", r.stderr, "PermissionDenied")
	}
	if n := len(f.reqs()); n != 1 {
		t.Errorf("%d calls reached the service, want only the payment client's", n)
	}
}
