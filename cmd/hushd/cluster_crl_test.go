package main

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/internal/auth/authtest"
	"github.com/hushmedia/hush/internal/cluster/redistest"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// TestClusterCRLReloadedOnSIGHUP: node b's certificate is revoked in cluster.crl_file and
// the nodes get SIGHUP: the stream b forwarded to a (a watch of a's call made through b)
// ends UNAUTHENTICATED, and b can no longer reach a's calls, while a still serves them.
func TestClusterCRLReloadedOnSIGHUP(t *testing.T) {
	rs := redistest.Start(t)
	p := testPrefix(t)
	dir := t.TempDir()
	ca := authtest.NewCA(t, "hush cluster CA")
	caFile := authtest.WriteFile(t, dir, "cluster-ca.crt", ca.PEM)
	crlFile := authtest.WriteFile(t, dir, "cluster.crl", ca.CRL(t, time.Time{}))
	leaves := map[string]authtest.Leaf{}
	node := func(name string) *daemon {
		l := ca.Issue(t, authtest.LeafOpts{CN: name, OUs: []string{auth.PeerOU}})
		leaves[name] = l
		return startDaemon(t, clusterArgs(rs, p, name,
			"--cluster-cert-file", authtest.WriteFile(t, dir, name+".crt", l.CertPEM),
			"--cluster-key-file", authtest.WriteFile(t, dir, name+".key", l.KeyPEM),
			"--cluster-ca-file", caFile, "--cluster-crl-file", crlFile)...)
	}
	a, b := node("a"), node("b")
	s, err := a.session.CreateSession(a.ctx(), &hushv1.CreateSessionRequest{CallId: "crl"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*wait)
	defer cancel()
	watch, err := b.session.WatchSession(ctx, &hushv1.WatchSessionRequest{SessionId: s.SessionId})
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := watch.Recv(); err != nil || ev.GetSnapshot() == nil {
		t.Fatalf("watch through b: %v %v", ev, err)
	}

	authtest.WriteFile(t, "", crlFile, ca.CRL(t, time.Time{}, leaves["b"].Cert))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		_, err := watch.Recv()
		if err == nil && i < 100 {
			continue // events of the call, if any
		}
		if status.Code(err) != codes.Unauthenticated {
			t.Fatalf("b's forwarded watch after b was revoked: %v, want UNAUTHENTICATED", err)
		}
		break
	}
	if _, err := b.session.GetSession(b.ctx(), &hushv1.GetSessionRequest{SessionId: s.SessionId}); err == nil {
		t.Fatal("a revoked node still reaches another node's call")
	}
	if _, err := a.session.GetSession(a.ctx(), &hushv1.GetSessionRequest{SessionId: s.SessionId}); err != nil {
		t.Fatalf("the owner itself: %v", err)
	}
}
