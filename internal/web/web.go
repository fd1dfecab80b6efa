package web

import (
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hushmedia/hush/internal/gateway"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// CSP allows this origin's scripts, styles, media and API calls, and nothing inline.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Options configure the pages.
type Options struct {
	Conn    *grpc.ClientConn // the in-process connection to hushd's gRPC server
	Gateway *gateway.Gateway // its origin rules apply to the pages too
	Secure  bool             // served over TLS: the sign-in cookie is Secure
	Logger  *slog.Logger
	// WaveformColumns is the waveform's resolution (0: 1200).
	WaveformColumns int
}

// UI serves the pages.
type UI struct {
	o     Options
	tmpl  *template.Template
	rec   hushv1.RecordingServiceClient
	audit hushv1.AuditServiceClient
	waves *waveCache
	files http.Handler
}

// New builds the pages.
func New(o Options) *UI {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.WaveformColumns == 0 {
		o.WaveformColumns = 1200
	}
	static, _ := fs.Sub(staticFS, "static")
	return &UI{
		o:     o,
		tmpl:  template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html")),
		rec:   hushv1.NewRecordingServiceClient(o.Conn),
		audit: hushv1.NewAuditServiceClient(o.Conn),
		waves: newWaveCache(256),
		files: http.FileServerFS(static),
	}
}

// Mount adds the pages to mux.
func (u *UI) Mount(mux *http.ServeMux) {
	mux.Handle("GET /static/", u.page(http.StripPrefix("/static", u.files).ServeHTTP))
	mux.HandleFunc("GET /embed.js", u.embed)
	mux.Handle("GET /{$}", u.page(u.home))
	mux.Handle("GET /signin", u.page(u.signinForm))
	mux.Handle("POST /signin", u.page(u.signin))
	mux.Handle("POST /signout", u.page(u.signout))
	mux.Handle("GET /agent", u.page(u.agent))
	mux.Handle("GET /qa", u.page(u.qaSearch))
	mux.Handle("GET /qa/recordings/{id}", u.page(u.qaRecording))
	// Anything else on the listener: a JSON 404, as under /v1/.
	mux.Handle("/", gateway.NotFound())
}

// page sets the headers every page has and applies the gateway's origin rules (which
// also decide whether the sign-in cookie counts).
func (u *UI) page(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", CSP)
		hd.Set("X-Content-Type-Options", "nosniff")
		// same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on a
		// form POST, and hushd could not tell its own sign-in form from a stranger.
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "DENY")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			hd.Set("Cache-Control", "no-store")
		}
		if !u.o.Gateway.Allow(w, r) {
			return
		}
		h(w, r)
	})
}

// embed serves the panel script for a desktop of another origin to load: it finds this
// server from its own URL.
func (u *UI) embed(w http.ResponseWriter, r *http.Request) {
	b, err := staticFS.ReadFile("static/panel.js")
	if err != nil {
		http.Error(w, "missing", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cross-Origin-Resource-Policy", "cross-origin")
	_, _ = w.Write(b)
}

type view struct {
	Title  string
	Nav    string // which navigation entry is current
	Signed bool   // a sign-in cookie is present
	Data   any
}

func (u *UI) render(w http.ResponseWriter, r *http.Request, code int, name string, v view) {
	_, err := r.Cookie(gateway.CookieName)
	v.Signed = err == nil
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if err := u.tmpl.ExecuteTemplate(w, name, v); err != nil {
		u.o.Logger.Error("page template failed", "page", name, "err", err)
	}
}

// refused renders what a failed RPC means for the person: sign in, not for your role,
// not found, or a generic error. Messages are hush's own.
func (u *UI) refused(w http.ResponseWriter, r *http.Request, err error) {
	st := status.Convert(err)
	switch st.Code() {
	case codes.Unauthenticated:
		u.render(w, r, http.StatusUnauthorized, "signin.html", view{Title: "Sign in", Data: signinData{
			Next: r.URL.RequestURI(), Problem: "Sign in to continue (" + st.Message() + ")."}})
	case codes.PermissionDenied:
		u.render(w, r, http.StatusForbidden, "refused.html", view{Title: "Not available", Data: st.Message()})
	case codes.NotFound, codes.InvalidArgument:
		u.render(w, r, http.StatusNotFound, "refused.html", view{Title: "Not found", Data: st.Message()})
	default:
		u.render(w, r, http.StatusBadGateway, "refused.html", view{Title: "Something went wrong", Data: "hushd could not answer: " + st.Code().String()})
	}
}

func (u *UI) home(w http.ResponseWriter, r *http.Request) {
	u.render(w, r, http.StatusOK, "home.html", view{Title: "Welcome"})
}

func (u *UI) agent(w http.ResponseWriter, r *http.Request) {
	u.render(w, r, http.StatusOK, "agent.html", view{Title: "Payment", Nav: "agent", Data: struct {
		Agent, Session string
	}{r.URL.Query().Get("agent"), r.URL.Query().Get("session")}})
}

type signinData struct {
	Next    string
	Problem string
}

func (u *UI) signinForm(w http.ResponseWriter, r *http.Request) {
	u.render(w, r, http.StatusOK, "signin.html", view{Title: "Sign in", Data: signinData{Next: safeNext(r.URL.Query().Get("next"))}})
}

// signin keeps the token in a cookie for hushd's own pages. The token is not judged here:
// the next page's RPCs judge it, as every call's.
func (u *UI) signin(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Origin") != "" && r.Header.Get("Origin") != ownOrigin(r) {
		u.render(w, r, http.StatusForbidden, "refused.html", view{Title: "Not available", Data: "sign in from hushd's own page"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	tok := strings.TrimSpace(r.PostFormValue("token"))
	tok = strings.TrimPrefix(strings.TrimPrefix(tok, "Bearer "), "bearer ")
	next := safeNext(r.PostFormValue("next"))
	if tok == "" || strings.ContainsAny(tok, " \t\r\n;,\"") {
		u.render(w, r, http.StatusBadRequest, "signin.html", view{Title: "Sign in", Data: signinData{Next: next, Problem: "Paste the token as it was issued."}})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: gateway.CookieName, Value: url.QueryEscape(tok), Path: "/", HttpOnly: true,
		Secure: u.o.Secure, SameSite: http.SameSiteStrictMode, MaxAge: int((12 * time.Hour).Seconds())})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (u *UI) signout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: gateway.CookieName, Value: "", Path: "/", HttpOnly: true,
		Secure: u.o.Secure, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// safeNext keeps a redirect on this server.
func safeNext(n string) string {
	if n == "" || !strings.HasPrefix(n, "/") || strings.HasPrefix(n, "//") || strings.ContainsAny(n, "\\\r\n") {
		return "/"
	}
	return n
}

func ownOrigin(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// call is ctx for an RPC on behalf of r's visitor, bounded.
func call(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(gateway.CallContext(r.Context(), r), 30*time.Second)
}
