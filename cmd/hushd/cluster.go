package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/hushmedia/hush/internal/api"
	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/internal/cluster"
	"github.com/hushmedia/hush/internal/config"
	"github.com/hushmedia/hush/internal/metrics"
)

// fleet is hushd's part in a cluster (nil parts when it runs alone).
type fleet struct {
	name    string
	node    *cluster.Node
	router  *cluster.Router
	rdb     *redis.Client
	peerTLS *auth.PeerTLS
	peerLn  net.Listener
	peer    *grpc.Server
	peerAZ  *auth.Authorizer // the peer listener's
	m       *metrics.ClusterMetrics
	// health is set once the API server exists: it reports the directory's state there.
	health func(ok bool)
	closed sync.Once
}

// followWait is how long a request or a watch for a session that is moving waits for its
// new owner: a standby needs the lease to run out first.
func followWait(c config.Cluster) time.Duration { return 2*c.Lease + 5*time.Second }

// setupFleet connects to the session directory and binds the peer listener; the node's
// loops start with startFleet once the registry exists. nil when the node runs alone.
func setupFleet(cfg *config.Config, log *slog.Logger, m *metrics.Metrics) (*fleet, error) {
	c := cfg.Cluster
	if !c.Enabled() {
		return nil, nil
	}
	f := &fleet{name: c.NodeID}
	if f.name == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("cluster.node_id is empty and the host name is unknown: %w", err)
		}
		f.name = h
	}
	var password string
	if c.RedisPasswordFile != "" {
		b, err := os.ReadFile(c.RedisPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("cluster.redis_password_file: %w", err)
		}
		password = strings.TrimSpace(string(b))
	}
	if c.TLS() {
		var err error
		if f.peerTLS, err = auth.LoadPeerTLS(c.CertFile, c.KeyFile, c.CAFile, c.CRLFile); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return nil, fmt.Errorf("cluster.listen: %w", err)
	}
	f.peerLn = ln
	advertise := c.Advertise
	if advertise == "" {
		advertise = ln.Addr().String()
	}
	f.rdb = cluster.NewRedis(c.RedisAddr, password)
	redis.SetLogger(redisLog{log})
	var node *cluster.Node
	f.m = m.Cluster(func() int { return node.Pending() })
	node = cluster.NewNode(cluster.Options{
		Redis: f.rdb, Prefix: c.KeyPrefix, Node: f.name, PeerAddr: advertise,
		MediaAddr: cfg.Media.AdvertiseIP().String(), Lease: c.Lease, WriteTimeout: c.WriteTimeout, Logger: log,
		Hooks: cluster.Hooks{
			Healthy: func(ok bool) {
				f.m.Up(ok)
				if h := f.health; h != nil {
					h(ok)
				}
			},
			Moved: f.m.Moved, Fenced: f.m.Fenced, WriteFailed: f.m.WriteFailed,
		},
	})
	f.node = node
	f.router = cluster.NewRouter(node, f.dial, followWait(c), cluster.RouterHooks{Forwarded: f.m.Forwarded})
	return f, nil
}

// dial connects to another node's peer listener.
func (f *fleet) dial(addr string) (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if f.peerTLS != nil {
		creds = credentials.NewTLS(f.peerTLS.Client())
	}
	return grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
}

// peerServer assembles the peer listener's server: the API's options, with the peer
// authorizer (callers other nodes name, never the nodes themselves) and the cluster's mTLS.
func (f *fleet) peerServer(o api.Options, ao auth.Options) (*grpc.Server, error) {
	ao.Peer = true
	ao.Certs = nil
	if f.peerTLS != nil {
		ao.Peers = f.peerTLS
	}
	authz, err := auth.NewAuthorizer(ao)
	if err != nil {
		return nil, err
	}
	f.peerAZ = authz
	o.Authorizer, o.Limiter = authz, nil
	o.Creds = nil
	if f.peerTLS != nil {
		o.Creds = credentials.NewTLS(f.peerTLS.Server())
	}
	o.Unary = []grpc.UnaryServerInterceptor{f.router.PeerUnary()}
	o.Stream = []grpc.StreamServerInterceptor{f.router.PeerStream()}
	f.peer = api.NewPeerServer(o)
	return f.peer, nil
}

// reload re-reads the cluster CA and CRLs (keeping the old ones if a file is bad), then
// ends the forwarded streams of peers no longer trusted.
func (f *fleet) reload(log *slog.Logger) {
	if f == nil || f.peerTLS == nil {
		return
	}
	if err := f.peerTLS.Reload(); err != nil {
		log.Error("cluster TLS reload failed; keeping the old cluster CA and CRLs", "err", err)
	} else if t := f.peerTLS.Trust(); t.CRLs > 0 {
		log.Info("cluster certificate revocation lists loaded", "crls", t.CRLs, "revoked", t.Revoked, "next_update", t.NextUpdate)
	}
	if f.peerAZ != nil {
		if n := f.peerAZ.Recheck(); n > 0 {
			log.Warn("forwarded streams ended: their cluster peer is no longer trusted", "streams", n)
		}
	}
}

// close takes the node out of the fleet after the drain: last writes, heartbeat removed,
// peer listener and connections closed.
func (f *fleet) close() {
	if f == nil {
		return
	}
	f.closed.Do(func() {
		f.node.Close()
		if f.peer != nil {
			stopGRPCServer(f.peer, 2*time.Second)
		}
		f.router.Close()
		_ = f.rdb.Close()
	})
}

// stopGRPCServer stops gracefully, forcing after a bound.
func stopGRPCServer(g *grpc.Server, bound time.Duration) {
	done := make(chan struct{})
	go func() { g.GracefulStop(); close(done) }()
	t := time.NewTimer(bound)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		g.Stop()
		<-done
	}
}

// redisLog sends go-redis's own messages (reconnects, pool errors) to hushd's log at
// debug level: the node's health and its warnings say what matters.
type redisLog struct{ log *slog.Logger }

func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.log.Debug("redis client: " + fmt.Sprintf(format, v...))
}
