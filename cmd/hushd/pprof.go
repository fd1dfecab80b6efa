package main

import (
	"context"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"
)

// maxProfileSeconds bounds a CPU profile or trace taken through /debug/pprof/.
const maxProfileSeconds = 300

// pprofHandler serves the runtime profiles under /debug/pprof/ (index, heap, goroutine,
// CPU profile, trace...). hushd mounts it behind the admin role, through the authorizer
// /metrics uses. A CPU profile or trace may run longer than the HTTP server's write
// timeout, up to maxProfileSeconds: the request's write deadline is moved for it.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/profile", long(pprof.Profile))
	mux.HandleFunc("/debug/pprof/trace", long(pprof.Trace))
	return mux
}

// long lets a profile of ?seconds=N (default 30, at most maxProfileSeconds) outlast the
// server's write timeout.
func long(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sec := 30
		if s := r.URL.Query().Get("seconds"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 || n > maxProfileSeconds {
				http.Error(w, "seconds must be between 1 and "+strconv.Itoa(maxProfileSeconds), http.StatusBadRequest)
				return
			}
			sec = n
		}
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Duration(sec)*time.Second + 10*time.Second))
		// pprof refuses a duration beyond the server's WriteTimeout, which it reads from the
		// request's context: the deadline was moved above, so it sees none.
		ctx := context.WithValue(r.Context(), http.ServerContextKey, &http.Server{})
		h(w, r.WithContext(ctx))
	}
}
