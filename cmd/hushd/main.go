// Command hushd is the hush media service: it relays calls' RTP between their customer and
// agent legs and is driven over gRPC. With no arguments it runs on an embedded default
// configuration (loopback only); see `hushd --help`, `hushd --print-default-config` and
// `hushd --version`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	err := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr, nil)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	default:
		fmt.Fprintln(os.Stderr, "hushd:", err)
		os.Exit(1)
	}
}
