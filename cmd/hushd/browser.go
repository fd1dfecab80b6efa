package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/internal/config"
	"github.com/hushmedia/hush/internal/gateway"
	"github.com/hushmedia/hush/internal/web"
)

// browserDoor is the HTTP/JSON gateway and the pages, over one in-process connection to
// hushd's gRPC server.
type browserDoor struct {
	conn *grpc.ClientConn
	gw   *gateway.Gateway
	ui   *web.UI // nil with http.ui false
}

func newBrowserDoor(cfg *config.Config, inproc *auth.InProcess, log *slog.Logger) (*browserDoor, error) {
	conn, err := grpc.NewClient("passthrough:///hushd-in-process", grpc.WithContextDialer(inproc.Dial),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(cfg.GRPC.MaxMessageSize+(1<<20))))
	if err != nil {
		return nil, fmt.Errorf("in-process gRPC connection: %w", err)
	}
	gw, err := gateway.New(gateway.Options{Conn: conn, Origins: cfg.HTTP.Origins(),
		MaxBodyBytes: int64(cfg.HTTP.MaxBodyBytes), Logger: log})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("http.cors_origins: %w", err)
	}
	b := &browserDoor{conn: conn, gw: gw}
	if cfg.HTTP.UI {
		b.ui = web.New(web.Options{Conn: conn, Gateway: gw, Secure: cfg.TLS.Enabled(), Logger: log})
	}
	return b, nil
}

// mount adds /v1/ (the API) and, with http.ui, the pages to mux.
func (b *browserDoor) mount(mux *http.ServeMux) {
	mux.Handle("/v1/", b.gw)
	if b.ui != nil {
		b.ui.Mount(mux)
		return
	}
	mux.Handle("/", gateway.NotFound())
}

func (b *browserDoor) Close() error { return b.conn.Close() }

// newOIDC builds the JWT verifier of auth.oidc (nil when off) and tries discovery at
// once, so a misconfigured issuer shows in the log at start; hushd serves either way
// and tries again on the first token.
func newOIDC(ctx context.Context, c config.OIDC, log *slog.Logger) (*auth.OIDC, error) {
	if !c.Enabled() {
		return nil, nil
	}
	v, err := auth.NewOIDC(auth.OIDCOptions{Issuer: c.Issuer, Audience: c.Audience, SubjectClaim: c.SubjectClaim,
		RoleClaim: c.RoleClaim, AgentIDClaim: c.AgentIDClaim, Algorithms: c.AlgorithmList()})
	if err != nil {
		return nil, fmt.Errorf("auth.oidc: %w", err)
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := v.Discover(dctx); err != nil {
		log.Warn("OIDC issuer not reachable at start; JWTs are refused until it is", "issuer", c.Issuer, "err", err)
	} else {
		log.Info("OIDC issuer discovered", "issuer", c.Issuer)
	}
	return v, nil
}
