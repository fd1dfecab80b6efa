package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/hushmedia/hush/internal/loadgen"
)

func main() {
	beHog()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errSkip):
		fmt.Fprintln(os.Stderr, "hushload:", err)
	default:
		fmt.Fprintln(os.Stderr, "hushload:", err)
		os.Exit(1)
	}
}

// beHog makes this process the competing load of a run with -hog (it started this
// executable with loadgen.HogEnv set): it spins until killed. Otherwise it returns.
func beHog() {
	v, ok := os.LookupEnv(loadgen.HogEnv)
	if !ok {
		return
	}
	n, err := loadgen.HogThreads(v)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hushload:", err)
		os.Exit(2)
	}
	loadgen.Spin(n)
}
