package ng

import (
	"fmt"

	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/internal/config"
)

// CheckListen applies the gRPC listener's rule to the ng listener: the ng protocol has no
// authentication, so on an address other than loopback hushd refuses to serve it unless
// ng.allow_from names the proxies that may use it, or ng.insecure says so (then it
// returns a warning to log).
func CheckListen(c config.NG) (warnings []string, err error) {
	if !c.Enabled || auth.IsLoopback(c.Listen) || c.AllowFrom != "" {
		return nil, nil
	}
	if c.Insecure {
		return []string{fmt.Sprintf("ng serves any source on non-loopback %s (ng.insecure)", c.Listen)}, nil
	}
	return nil, fmt.Errorf("%w: ng.listen %s is not loopback and ng.allow_from is empty: list the SIP proxies' addresses in ng.allow_from, or set ng.insecure: true",
		auth.ErrUnsafeListen, c.Listen)
}
