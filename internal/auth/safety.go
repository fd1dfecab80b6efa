package auth

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/hushmedia/hush/internal/config"
)

// CheckListenSafety refuses a configuration that would serve the API in
// plaintext, or without authentication, on a non-loopback address, unless
// grpc.insecure (or http.insecure for the HTTP listener) says so; then it
// returns a warning for hushd to log. "localhost" counts as loopback; any
// other host name, and an empty host (all interfaces), does not.
func CheckListenSafety(c *config.Config) (warnings []string, err error) {
	var errs []string
	grpcLocal := IsLoopback(c.GRPC.Listen)
	if !grpcLocal && !c.TLS.Enabled() {
		if !c.GRPC.Insecure {
			errs = append(errs, fmt.Sprintf("grpc.listen %s is not loopback and TLS is off: set tls.cert_file and tls.key_file, or grpc.insecure: true", c.GRPC.Listen))
		} else {
			warnings = append(warnings, fmt.Sprintf("gRPC serves plaintext on non-loopback %s (grpc.insecure)", c.GRPC.Listen))
		}
	}
	if !grpcLocal && c.Auth.Mode == config.AuthNone {
		if !c.GRPC.Insecure {
			errs = append(errs, fmt.Sprintf("grpc.listen %s is not loopback and auth.mode is none: set auth.mode, or grpc.insecure: true", c.GRPC.Listen))
		} else {
			warnings = append(warnings, fmt.Sprintf("gRPC serves without authentication on non-loopback %s (grpc.insecure)", c.GRPC.Listen))
		}
	}
	if !IsLoopback(c.HTTP.Listen) && !c.TLS.Enabled() {
		if !c.HTTP.Insecure {
			errs = append(errs, fmt.Sprintf("http.listen %s is not loopback and TLS is off: set tls.cert_file and tls.key_file, or http.insecure: true", c.HTTP.Listen))
		} else {
			warnings = append(warnings, fmt.Sprintf("HTTP serves plaintext on non-loopback %s (http.insecure)", c.HTTP.Listen))
		}
	}
	if len(errs) > 0 {
		return warnings, fmt.Errorf("%w: %s", ErrUnsafeListen, strings.Join(errs, "; "))
	}
	return warnings, nil
}

// IsLoopback reports whether host:port names a loopback host ("localhost" or a loopback
// IP literal). hushd uses it to decide whether a listener may go without TLS, hushctl
// whether a token may go without it.
func IsLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
