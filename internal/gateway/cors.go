package gateway

import (
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/hushmedia/hush/internal/config"
)

// ParseOrigins checks the allow-list of browser origins: each is scheme://host[:port]
// exactly as a browser sends it in Origin (no path, no wildcard: an allow-list names
// the desktops it trusts).
func ParseOrigins(list []string) (map[string]bool, error) {
	out := make(map[string]bool, len(list))
	for _, o := range list {
		if err := config.CheckOrigin(o); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrOrigins, err)
		}
		out[o] = true
	}
	return out, nil
}

// ownOrigin is the origin the request was addressed to.
func ownOrigin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + strings.ToLower(r.Host)
}

// Allow applies the origin rules to a request for /v1/ and answers it when they refuse:
//
//   - no Origin header (a tool, or a same-origin GET) or hushd's own origin: allowed;
//   - an origin of the allow-list: allowed, with the CORS headers that let the page read
//     the answer (never Access-Control-Allow-Credentials: a page of another origin
//     sends a bearer token; hushd's sign-in cookie stays with hushd's own pages);
//   - any other origin, "null" included: 403, and no CORS headers.
//
// The sign-in cookie counts only on requests from hushd's own pages: it is dropped from
// any request another site (Sec-Fetch-Site) or another origin made, and a request that
// changes something must name hushd's origin in Origin to use it.
func (g *Gateway) Allow(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	own := origin == "" || origin == ownOrigin(r)
	switch {
	case own:
	case g.origins[origin]:
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, POST")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Max-Age", "600")
		}
	default:
		writeError(w, codes.PermissionDenied, "this origin may not call the hush API (http.cors_origins)")
		return false
	}
	if _, err := r.Cookie(CookieName); err == nil && len(r.Header.Values("Authorization")) == 0 {
		site := r.Header.Get("Sec-Fetch-Site")
		unsafe := r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions
		if !own || site == "cross-site" || site == "same-site" || unsafe && origin == "" {
			dropCookie(r)
		}
	}
	return true
}

// dropCookie removes the sign-in cookie from r, keeping any other.
func dropCookie(r *http.Request) {
	cs := r.Cookies()
	r.Header.Del("Cookie")
	for _, c := range cs {
		if c.Name != CookieName {
			r.AddCookie(c)
		}
	}
}
