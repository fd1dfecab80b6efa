package auth

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"

	"github.com/hushmedia/hush/internal/auth/authtest"
	"github.com/hushmedia/hush/internal/config"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// crlNode is a cluster node's mTLS, loaded from files with cluster.crl_file.
type crlNode struct {
	tls  *PeerTLS
	leaf authtest.Leaf
}

func loadCRLNode(t *testing.T, ca *authtest.CA, dir, name, crlFile string) crlNode {
	t.Helper()
	l := ca.Issue(t, authtest.LeafOpts{CN: name, OUs: []string{PeerOU}})
	p, err := LoadPeerTLS(authtest.WriteFile(t, dir, name+".crt", l.CertPEM), authtest.WriteFile(t, dir, name+".key", l.KeyPEM),
		authtest.WriteFile(t, dir, "cluster-ca.crt", ca.PEM), crlFile)
	if err != nil {
		t.Fatal(err)
	}
	return crlNode{tls: p, leaf: l}
}

// servePeerListener serves a peer listener (peer authorizer, holding streams) with p's
// mTLS and returns its address and authorizer.
func servePeerListener(t *testing.T, p *PeerTLS, mode string) (string, *Authorizer) {
	t.Helper()
	a, err := NewAuthorizer(Options{Mode: mode, Owner: testOwners, Peer: true, Peers: p})
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(grpc.Creds(credentials.NewTLS(p.Server())),
		grpc.UnaryInterceptor(a.Unary()), grpc.StreamInterceptor(a.Stream()))
	hushv1.RegisterSessionServiceServer(g, holdSessions{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = g.Serve(ln); close(done) }()
	t.Cleanup(func() { g.Stop(); <-done })
	return ln.Addr().String(), a
}

func dialPeer(t *testing.T, addr string, p *PeerTLS) hushv1.SessionServiceClient {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(p.Client())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return hushv1.NewSessionServiceClient(cc)
}

// TestPeerCRLRevokesNode: cluster.crl_file revokes a node certificate on the cluster's own
// mTLS. Once the CRL naming node-c is reloaded, the owner's peer listener refuses node-c's
// new connections, refuses calls on its connection made before and ends the stream it
// forwarded (UNAUTHENTICATED); a node dialing node-c refuses node-c's certificate (node-c
// itself not told); node-a, not revoked, goes on. A node started with the CRL refuses
// node-c from the start. The same with auth.mode none, where callers are not
// authenticated but nodes are.
func TestPeerCRLRevokesNode(t *testing.T) {
	for _, mode := range []string{config.AuthMTLS, config.AuthNone} {
		t.Run(mode, func(t *testing.T) { testPeerCRLRevokesNode(t, mode) })
	}
}

func testPeerCRLRevokesNode(t *testing.T, mode string) {
	ca := authtest.NewCA(t, "hush cluster CA")
	dir := t.TempDir()
	crlFile := authtest.WriteFile(t, dir, "cluster.crl", ca.CRL(t, time.Time{}))
	owner := loadCRLNode(t, ca, dir, "node-b", crlFile)
	nodeA := loadCRLNode(t, ca, dir, "node-a", crlFile)
	nodeC := loadCRLNode(t, ca, dir, "node-c", crlFile)
	ownerAddr, ownerAZ := servePeerListener(t, owner.tls, mode)
	cAddr, _ := servePeerListener(t, nodeC.tls, mode)

	agent := Identity{Subject: "a-17", Role: RoleAgent, AgentID: "a-17", Method: MethodCert}
	pause := func(c hushv1.SessionServiceClient) error {
		_, err := c.PauseRecording(edge(t, agent, ""), &hushv1.PauseRecordingRequest{SessionId: "s-a17"})
		return err
	}
	hold := holder(t)
	watch := func(c hushv1.SessionServiceClient) *held {
		ctx, cancel := context.WithCancel(edge(t, agent, ""))
		t.Cleanup(cancel)
		return hold(c.WatchSession(ctx, &hushv1.WatchSessionRequest{SessionId: "s-a17"}))
	}
	cToOwner, aToOwner := dialPeer(t, ownerAddr, nodeC.tls), dialPeer(t, ownerAddr, nodeA.tls)
	if err := pause(cToOwner); err != nil {
		t.Fatalf("node-c before revocation: %v", err)
	}
	if err := pause(dialPeer(t, cAddr, nodeA.tls)); err != nil {
		t.Fatalf("node-a dialing node-c before revocation: %v", err)
	}
	cWatch, aWatch := watch(cToOwner), watch(aToOwner)

	authtest.WriteFile(t, "", crlFile, ca.CRL(t, time.Time{}, nodeC.leaf.Cert))
	for _, p := range []*PeerTLS{owner.tls, nodeA.tls} { // node-c is not told
		if err := p.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	if tr := owner.tls.Trust(); tr.CRLs != 1 || tr.Revoked != 1 {
		t.Fatalf("owner's trust: %d CRLs, %d revoked; want 1, 1", tr.CRLs, tr.Revoked)
	}
	if n := ownerAZ.Recheck(); n != 1 {
		t.Errorf("Recheck ended %d streams, want node-c's 1", n)
	}
	cWatch.ended(t, codes.Unauthenticated)
	if !aWatch.open() {
		t.Error("node-a's forwarded stream ended")
	}
	wantCode(t, pause(cToOwner), codes.Unauthenticated)                      // the connection made before
	wantCode(t, pause(dialPeer(t, ownerAddr, nodeC.tls)), codes.Unavailable) // serving: a new handshake
	wantCode(t, pause(dialPeer(t, cAddr, nodeA.tls)), codes.Unavailable)     // dialing
	wantCode(t, pause(dialPeer(t, ownerAddr, nodeA.tls)), codes.OK)          // node-a unharmed
	wantCode(t, pause(aToOwner), codes.OK)

	fresh := loadCRLNode(t, ca, dir, "node-d", crlFile)
	freshAddr, _ := servePeerListener(t, fresh.tls, mode)
	wantCode(t, pause(dialPeer(t, freshAddr, nodeC.tls)), codes.Unavailable)
	wantCode(t, pause(dialPeer(t, cAddr, fresh.tls)), codes.Unavailable)
	wantCode(t, pause(dialPeer(t, freshAddr, nodeA.tls)), codes.OK)
}

// TestPeerCRLBad: a cluster CRL that cannot be read, parsed or trusted is refused at start
// naming cluster.crl_file, and on reload keeps the trust in force.
func TestPeerCRLBad(t *testing.T) {
	ca := authtest.NewCA(t, "hush cluster CA")
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"foreign CA": authtest.NewCA(t, "other").CRL(t, time.Time{}),
		"not a CRL":  []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
		"garbage":    []byte("\x30\x03\x02\x01\x01"),
	} {
		l := ca.Issue(t, authtest.LeafOpts{CN: "node-a", OUs: []string{PeerOU}})
		_, err := LoadPeerTLS(authtest.WriteFile(t, dir, "a.crt", l.CertPEM), authtest.WriteFile(t, dir, "a.key", l.KeyPEM),
			authtest.WriteFile(t, dir, "ca.crt", ca.PEM), authtest.WriteFile(t, dir, "bad.crl", data))
		if !errors.Is(err, ErrCRL) || !strings.Contains(err.Error(), "cluster.crl_file") {
			t.Errorf("%s: err %v, want ErrCRL naming cluster.crl_file", name, err)
		}
	}
	crlFile := authtest.WriteFile(t, dir, "cluster.crl", nil)
	n := loadCRLNode(t, ca, dir, "node-a", crlFile)
	revoked := ca.Issue(t, authtest.LeafOpts{CN: "node-c", OUs: []string{PeerOU}})
	authtest.WriteFile(t, "", crlFile, ca.CRL(t, time.Time{}, revoked.Cert))
	if err := n.tls.Reload(); err != nil {
		t.Fatal(err)
	}
	authtest.WriteFile(t, "", crlFile, []byte("garbage"))
	if err := n.tls.Reload(); !errors.Is(err, ErrCRL) {
		t.Fatalf("reload of a bad CRL: %v", err)
	}
	if err := n.tls.CheckChain([]*x509.Certificate{revoked.Cert, ca.Cert}); !errors.Is(err, ErrCertRefused) {
		t.Fatalf("after a failed reload the revoked node is %v, want refused", err)
	}
}
