package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// errNotServing marks a health check that reached hushd and heard anything but SERVING.
var errNotServing = errors.New("not serving")

// healthVerb is `hushctl health`: a probe for container health checks and scripts (a
// static image has no grpc_health_probe). It needs no credentials: hushd answers health
// checks unauthenticated, on the API listener and on grpc.health_listen.
var healthVerb = verb{
	name: "health",
	help: "check hushd's gRPC health; exit 0 when SERVING, 1 otherwise (unreachable, NOT_SERVING, unknown service)",
	long: `--service "" (the default) is hushd as a whole: SERVING until it exits. --service
hush.v1.SessionService turns NOT_SERVING as soon as a drain starts (SIGTERM, Admin Drain),
so a readiness check takes new calls elsewhere while active ones finish.`,
	flags: func(fs *flag.FlagSet) connAction {
		service := fs.String("service", "", "service to check; empty = the server as a whole")
		return func(ctx context.Context, a *app, cc grpc.ClientConnInterface, _ []string) error {
			ctx, cancel := a.callCtx(ctx)
			defer cancel()
			resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: *service})
			if err != nil {
				return err
			}
			if a.json {
				b, _ := protojson.Marshal(resp)
				fmt.Fprintln(a.stdout, string(b))
			} else {
				fmt.Fprintln(a.stdout, resp.GetStatus())
			}
			if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				name := *service
				if name == "" {
					name = "hushd"
				}
				return fmt.Errorf("%w: %s is %s", errNotServing, name, resp.GetStatus())
			}
			return nil
		}
	},
}
