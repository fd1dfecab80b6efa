package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/grpc/metadata"

	"github.com/hushmedia/hush/internal/auth"
)

// chromiumPath finds Debian's chromium, skipping (failing with CI=true) without it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found: install the Debian package chromium")
	}
	t.Skip("chromium not found: install the Debian package chromium")
	return ""
}

// browser is a headless Chromium with a fresh profile that reaches nothing but loopback.
func browser(t *testing.T) context.Context {
	t.Helper()
	bin := chromiumPath(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("mute-audio", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // start it now: failures are the browser's
		t.Fatalf("chromium did not start: %v", err)
	}
	return ctx
}

// tab opens a new tab of the browser (a fresh page; cookies are the profile's).
func tab(t *testing.T, parent context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent)
	t.Cleanup(cancel)
	// Open it now with the tab's own context: a tab lives as long as the context of the
	// first call on it, so that call must carry no timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("new tab: %v", err)
	}
	return ctx
}

// within runs browser steps, bounded.
func within(t *testing.T, ctx context.Context, d time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := chromedp.Do(c, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// get runs one browser action and returns its value, bounded.
func get[T any](t *testing.T, ctx context.Context, d time.Duration, a chromedp.Action[T]) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	v, err := chromedp.Run(c, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}

// js evaluates an expression in the page.
func js[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	return get(t, ctx, 10*time.Second, chromedp.Evaluate[T](expr))
}

// waitJS waits until a JavaScript expression is truthy, bounded by d.
func waitJS(t *testing.T, ctx context.Context, d time.Duration, expr string) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, d+time.Second)
	defer cancel()
	if _, err := chromedp.Run(c, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		c2, cancel2 := context.WithTimeout(ctx, 5*time.Second)
		defer cancel2()
		page, perr := chromedp.Run(c2, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
		t.Fatalf("waiting for %s: %v\npage (%v): %s", expr, err, perr, page)
	}
}

// screenshot writes a PNG of the page to docs/ when HUSH_SCREENSHOTS=1, so normal runs
// leave the tree as it is.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if os.Getenv("HUSH_SCREENSHOTS") != "1" {
		return
	}
	png := get(t, ctx, 10*time.Second, chromedp.FullScreenshot(100)) // quality 100: PNG
	path := filepath.Join("..", "..", "docs", "screenshots", name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}

// tokenFile writes a token file for name -> identity and returns its path; tokens are
// "tok-<name>-...".
func tokenFile(t *testing.T, ids map[string]auth.TokenEntry) string {
	t.Helper()
	var b strings.Builder
	for name, e := range ids {
		e.SHA256 = auth.HashToken(browserToken(name))
		line, _ := json.Marshal(e)
		b.Write(line)
		b.WriteByte('\n')
	}
	p := filepath.Join(t.TempDir(), "tokens.jsonl")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func browserToken(name string) string { return fmt.Sprintf("tok-%s-3b7a9c0d1e2f4a5b6c7d8e9f", name) }

// as is ctx carrying a bearer token for gRPC calls.
func as(ctx context.Context, name string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+browserToken(name))
}

// signIn signs the browser in with a token on hushd's sign-in page, then opens next.
func signIn(t *testing.T, ctx context.Context, base, name, next string) {
	t.Helper()
	within(t, ctx, 15*time.Second,
		chromedp.Navigate(base+"/signin?next="+next),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), browserToken(name)),
		chromedp.Submit(chromedp.ID("token")),
		// Queries follow navigations (a poll would stay with the page it started on).
		chromedp.WaitNotPresent(chromedp.ID("token")),
		chromedp.WaitReady(chromedp.CSS("main")),
	)
}
