package auth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/hushmedia/hush/internal/auth/authtest"
	"github.com/hushmedia/hush/internal/config"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// The in-process connection carries the browser's address and verified certificate chain
// to the interceptors; a network client that sends the same metadata is not believed.
func TestGatewayPeer(t *testing.T) {
	dir := t.TempDir()
	ca := authtest.NewCA(t, "hush test CA")
	srvCert := ca.Issue(t, authtest.LeafOpts{CN: "hushd", Server: true})
	st, err := NewServerTLS(config.TLS{
		CertFile:     authtest.WriteFile(t, dir, "tls.crt", srvCert.CertPEM),
		KeyFile:      authtest.WriteFile(t, dir, "tls.key", srvCert.KeyPEM),
		ClientCAFile: authtest.WriteFile(t, dir, "ca.crt", ca.PEM),
	}, config.AuthTokenOrMTLS)
	if err != nil {
		t.Fatal(err)
	}
	var denied []string
	a, err := NewAuthorizer(Options{Mode: config.AuthTokenOrMTLS, Tokens: testStore(), Certs: st, Owner: testOwners,
		OnDenied: func(ctx context.Context, _ string, _ Identity, _ codes.Code, reason string) {
			denied = append(denied, reason)
		}})
	if err != nil {
		t.Fatal(err)
	}
	gu, gs := GatewayPeer()
	g := grpc.NewServer(grpc.Creds(GatewayCreds(credentials.NewTLS(st.GRPC()))),
		grpc.ChainUnaryInterceptor(gu, a.Unary()), grpc.ChainStreamInterceptor(gs, a.Stream()))
	fake := &fakeSessions{}
	hushv1.RegisterSessionServiceServer(g, fake)
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	inproc := NewInProcess()
	go func() { _ = g.Serve(tcp) }()
	go func() { _ = g.Serve(inproc) }()
	t.Cleanup(g.Stop)

	gwConn, err := grpc.NewClient("passthrough:///hushd", grpc.WithContextDialer(inproc.Dial),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer gwConn.Close()
	netConn, err := grpc.NewClient(tcp.Addr().String(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: ca.Pool()})))
	if err != nil {
		t.Fatal(err)
	}
	defer netConn.Close()

	platform := ca.Issue(t, authtest.LeafOpts{CN: "sbc-browser", OUs: []string{"platform"}})
	chain := [][]*x509.Certificate{{platform.Cert, ca.Cert}}
	foreign := authtest.NewCA(t, "someone else's CA")
	forged := foreign.Issue(t, authtest.LeafOpts{CN: "mallory", OUs: []string{"admin"}})

	create := func(cc *grpc.ClientConn, md metadata.MD) error {
		ctx := metadata.NewOutgoingContext(context.Background(), md)
		_, err := hushv1.NewSessionServiceClient(cc).CreateSession(ctx, &hushv1.CreateSessionRequest{CallId: "c"})
		return err
	}
	for _, tc := range []struct {
		name string
		cc   *grpc.ClientConn
		md   metadata.MD
		want codes.Code
	}{
		{"gateway, browser certificate", gwConn, GatewayMetadata("192.0.2.7:5000", chain), codes.OK},
		{"gateway, browser token", gwConn, metadata.Join(GatewayMetadata("192.0.2.7:5000", nil), metadata.Pairs("authorization", bearerOf("platform"))), codes.OK},
		{"gateway, no credential", gwConn, GatewayMetadata("192.0.2.7:5000", nil), codes.Unauthenticated},
		{"gateway, certificate of a foreign CA", gwConn, GatewayMetadata("192.0.2.7:5000", [][]*x509.Certificate{{forged.Cert, foreign.Cert}}), codes.Unauthenticated},
		{"gateway without the browser's address", gwConn, metadata.Pairs("authorization", bearerOf("platform")), codes.Unauthenticated},
		{"network client claiming a certificate", netConn, GatewayMetadata("192.0.2.7:5000", chain), codes.Unauthenticated},
	} {
		err := create(tc.cc, tc.md)
		if status.Code(err) != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			continue
		}
		if tc.want == codes.OK {
			id := fake.last(t)
			if tc.name == "gateway, browser certificate" && (id.Method != MethodCert || id.Subject != "sbc-browser") {
				t.Errorf("%s: handler saw %+v", tc.name, id)
			}
		}
	}
	if len(denied) == 0 || !strings.Contains(strings.Join(denied, "|"), "bearer token required") {
		t.Errorf("denials %q: the network client's claimed certificate was not ignored", denied)
	}
}
