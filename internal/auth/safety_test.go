package auth

import (
	"errors"
	"strings"
	"testing"

	"github.com/hushmedia/hush/internal/config"
)

func TestCheckListenSafety(t *testing.T) {
	withTLS := func(c *config.Config) { c.TLS = config.TLS{CertFile: "/c", KeyFile: "/k"} }
	tokens := func(c *config.Config) { c.Auth.Mode, c.Auth.TokenFile = config.AuthToken, "/t" }
	for _, tc := range []struct {
		name   string
		edit   func(*config.Config)
		err    string // substring; "" = no error
		warned string // substring of a warning; "" = none
	}{
		{"default loopback", func(*config.Config) {}, "", ""},
		{"localhost", func(c *config.Config) { c.GRPC.Listen, c.HTTP.Listen = "localhost:1", "localhost:2" }, "", ""},
		{"ipv6 loopback", func(c *config.Config) { c.GRPC.Listen = "[::1]:1" }, "", ""},
		{"all interfaces plaintext", func(c *config.Config) { c.GRPC.Listen = ":50051" }, "grpc.listen :50051 is not loopback and TLS is off", ""},
		{"public IP no auth", func(c *config.Config) { c.GRPC.Listen = "10.0.0.5:50051"; withTLS(c) }, "auth.mode is none", ""},
		{"host name counts as remote", func(c *config.Config) { c.GRPC.Listen = "hush.example:1"; withTLS(c) }, "not loopback", ""},
		{"TLS and tokens", func(c *config.Config) { c.GRPC.Listen = "0.0.0.0:50051"; withTLS(c); tokens(c) }, "", ""},
		{"insecure plaintext", func(c *config.Config) { c.GRPC.Listen = "0.0.0.0:1"; c.GRPC.Insecure = true; tokens(c) }, "", "gRPC serves plaintext"},
		{"insecure no auth", func(c *config.Config) { c.GRPC.Listen = "0.0.0.0:1"; c.GRPC.Insecure = true; withTLS(c) }, "", "without authentication"},
		{"http plaintext", func(c *config.Config) { c.HTTP.Listen = "0.0.0.0:8080" }, "http.listen 0.0.0.0:8080", ""},
		{"http insecure", func(c *config.Config) { c.HTTP.Listen = "0.0.0.0:8080"; c.HTTP.Insecure = true }, "", "HTTP serves plaintext"},
		{"http with TLS", func(c *config.Config) { c.HTTP.Listen = "0.0.0.0:8080"; withTLS(c) }, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := config.Default()
			tc.edit(c)
			warns, err := CheckListenSafety(c)
			if tc.err == "" && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if tc.err != "" && (!errors.Is(err, ErrUnsafeListen) || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("err = %v, want ErrUnsafeListen with %q", err, tc.err)
			}
			joined := strings.Join(warns, "\n")
			if (tc.warned == "") != (joined == "") || !strings.Contains(joined, tc.warned) {
				t.Errorf("warnings %q, want %q", joined, tc.warned)
			}
		})
	}
}
