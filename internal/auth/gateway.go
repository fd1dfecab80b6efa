package auth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/netip"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

// The browser door. hushd's HTTP/JSON gateway and web pages call hushd's own gRPC server
// over an in-process connection (InProcess), so every browser request crosses the same
// interceptors as a gRPC call: recovery, metrics, the rate limiter and the Authorizer
// with its one Policy table. Two things of the browser's request must reach them:
//
//   - its credential: the Authorization header becomes "authorization" metadata, as a
//     gRPC client sends it;
//   - its transport: the browser's address and the client certificate chain its TLS
//     handshake with hushd's HTTP listener verified. The gateway sends them as metadata
//     (GatewayPeerKey, GatewayCertKey); GatewayPeer, the outermost interceptor, makes
//     them the call's peer, so the limiter and the Authorizer judge the browser exactly
//     as they judge a gRPC client (the chain again by the trust in force now).
//
// That metadata is believed only on the in-process connection, which GatewayCreds marks
// at its handshake; on any other connection it is removed, so no network client can
// claim an address or a certificate.
const (
	GatewayPeerKey = "x-hush-gateway-peer"     // the browser's ip:port
	GatewayCertKey = "x-hush-gateway-cert-bin" // DER certificates of the verified chain, leaf first
)

// inProcessBuffer is the in-process connection's buffer per direction.
const inProcessBuffer = 256 << 10

// InProcess is the listener of hushd's in-process gRPC connection: the gateway dials it,
// hushd's gRPC server serves it beside its network listener.
type InProcess struct{ *bufconn.Listener }

// NewInProcess returns an in-process listener.
func NewInProcess() *InProcess { return &InProcess{bufconn.Listen(inProcessBuffer)} }

// Accept marks every connection as the gateway's (see GatewayCreds).
func (l *InProcess) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return gatewayConn{c}, nil
}

// Dial is the gRPC client's dialer (grpc.WithContextDialer).
func (l *InProcess) Dial(ctx context.Context, _ string) (net.Conn, error) {
	return l.Listener.DialContext(ctx)
}

type gatewayConn struct{ net.Conn }

// GatewayInfo is the AuthInfo of the in-process connection.
type GatewayInfo struct{ credentials.CommonAuthInfo }

// AuthType implements credentials.AuthInfo.
func (GatewayInfo) AuthType() string { return "hush-gateway" }

// GatewayCreds wraps the gRPC server's transport credentials (nil: plaintext): network
// connections are handled by them unchanged; the in-process connection skips TLS and is
// marked GatewayInfo, the mark GatewayPeer trusts.
func GatewayCreds(inner credentials.TransportCredentials) credentials.TransportCredentials {
	if inner == nil {
		inner = insecure.NewCredentials()
	}
	return gatewayCreds{inner}
}

type gatewayCreds struct {
	credentials.TransportCredentials
}

func (g gatewayCreds) ServerHandshake(c net.Conn) (net.Conn, credentials.AuthInfo, error) {
	if _, ok := c.(gatewayConn); ok {
		return c, GatewayInfo{credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}, nil
	}
	return g.TransportCredentials.ServerHandshake(c)
}

func (g gatewayCreds) Clone() credentials.TransportCredentials {
	return gatewayCreds{g.TransportCredentials.Clone()}
}

// GatewayMetadata is the metadata the gateway adds to a browser's call: its address and
// the client certificate chain its TLS handshake verified, if any.
func GatewayMetadata(remoteAddr string, verified [][]*x509.Certificate) metadata.MD {
	md := metadata.Pairs(GatewayPeerKey, remoteAddr)
	if len(verified) > 0 {
		for _, c := range verified[0] {
			md.Append(GatewayCertKey, string(c.Raw))
		}
	}
	return md
}

// GatewayPeer returns the outermost interceptors: on the in-process connection they make
// the browser the call's peer; elsewhere they remove the gateway's metadata keys.
func GatewayPeer() (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	unary := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		ctx, err := gatewayPeer(ctx)
		if err != nil {
			return nil, err
		}
		return h(ctx, req)
	}
	stream := func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		ctx, err := gatewayPeer(ss.Context())
		if err != nil {
			return err
		}
		return h(srv, &peerStream{ServerStream: ss, ctx: ctx})
	}
	return unary, stream
}

type peerStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *peerStream) Context() context.Context { return s.ctx }

func gatewayPeer(ctx context.Context) (context.Context, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	p, _ := peer.FromContext(ctx)
	if p == nil {
		return ctx, nil
	}
	if _, ok := p.AuthInfo.(GatewayInfo); !ok {
		if len(md.Get(GatewayPeerKey)) == 0 && len(md.Get(GatewayCertKey)) == 0 {
			return ctx, nil
		}
		md = md.Copy()
		delete(md, GatewayPeerKey)
		delete(md, GatewayCertKey)
		return metadata.NewIncomingContext(ctx, md), nil
	}
	addrs := md.Get(GatewayPeerKey)
	if len(addrs) != 1 {
		return ctx, status.Error(codes.Unauthenticated, "gateway call without its browser's address")
	}
	ap, err := netip.ParseAddrPort(addrs[0])
	if err != nil {
		return ctx, status.Error(codes.Unauthenticated, "gateway call with a bad browser address")
	}
	np := &peer.Peer{Addr: net.TCPAddrFromAddrPort(ap), LocalAddr: p.LocalAddr}
	if ders := md.Get(GatewayCertKey); len(ders) > 0 {
		chain := make([]*x509.Certificate, 0, len(ders))
		for _, der := range ders {
			c, err := x509.ParseCertificate([]byte(der))
			if err != nil {
				return ctx, status.Error(codes.Unauthenticated, "gateway call with a bad client certificate")
			}
			chain = append(chain, c)
		}
		np.AuthInfo = credentials.TLSInfo{State: tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{chain}},
			CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}}
	}
	md = md.Copy()
	delete(md, GatewayPeerKey)
	delete(md, GatewayCertKey)
	return peer.NewContext(metadata.NewIncomingContext(ctx, md), np), nil
}
