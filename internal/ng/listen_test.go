package ng

import (
	"errors"
	"testing"

	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/internal/config"
)

func TestCheckListen(t *testing.T) {
	for _, tc := range []struct {
		name  string
		c     config.NG
		err   bool
		warns int
	}{
		{"off", config.NG{Listen: "0.0.0.0:2223"}, false, 0},
		{"loopback", config.NG{Enabled: true, Listen: "127.0.0.1:2223"}, false, 0},
		{"localhost", config.NG{Enabled: true, Listen: "localhost:2223"}, false, 0},
		{"ipv6 loopback", config.NG{Enabled: true, Listen: "[::1]:2223"}, false, 0},
		{"all interfaces, no allow list", config.NG{Enabled: true, Listen: ":2223"}, true, 0},
		{"public address, no allow list", config.NG{Enabled: true, Listen: "192.0.2.5:2223"}, true, 0},
		{"public address with allow list", config.NG{Enabled: true, Listen: "192.0.2.5:2223", AllowFrom: "192.0.2.0/24"}, false, 0},
		{"insecure override", config.NG{Enabled: true, Listen: "192.0.2.5:2223", Insecure: true}, false, 1},
	} {
		warns, err := CheckListen(tc.c)
		if (err != nil) != tc.err || len(warns) != tc.warns {
			t.Errorf("%s: %v %q", tc.name, err, warns)
		}
		if err != nil && !errors.Is(err, auth.ErrUnsafeListen) {
			t.Errorf("%s: error does not wrap auth.ErrUnsafeListen", tc.name)
		}
	}
}
