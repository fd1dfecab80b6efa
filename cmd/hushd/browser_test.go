package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hushmedia/hush/internal/auth"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// embedPage is an agent desktop of another origin hosting hushd's panel with a token.
func embedPage(hushd *string, token string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><title>Desktop</title></head><body>
<h1>CRM desktop</h1><div id="pay"></div>
<script src="%s/embed.js"></script>
<script>HushPanel.mount(document.getElementById("pay"), {token: %q, agent: "a-17"});</script>
</body></html>`, *hushd, token)
	})
}

// TestBrowserPaymentPanelAndQAConsole drives hushd's pages in headless Chromium through a
// live call: RTP with in-band DTMF flows from the test through a real hushd.
//
//   - The agent signs in, opens the payment panel, which finds the agent's call; "Take
//     payment" starts secure capture; the customer keys a card number; the panel shows
//     one '*' per digit as they come, and the Luhn verdict at the end, with the progress
//     in an aria-live region; no digit ever reaches the page.
//   - The agent's token is refused at the QA console.
//   - QA signs in, finds the recording by call id, sees a masked span shaded where the
//     first key was pressed, clicks the waveform and the player plays.
//   - A desktop page of an allowed origin gets answers from the API; a page of another
//     origin is refused by CORS.
func TestBrowserPaymentPanelAndQAConsole(t *testing.T) {
	bctx := browser(t)
	needDebianTool(t, "multimon-ng", "multimon-ng") // the same judges as the capture tests run where this does
	dir := t.TempDir()
	tokens := tokenFile(t, map[string]auth.TokenEntry{
		"platform": {Subject: "sbc-1", Role: auth.RolePlatform},
		"agent":    {Subject: "alice", Role: auth.RoleAgent, AgentID: "a-17"},
		"qa":       {Subject: "quinn", Role: auth.RoleQA},
	})
	var base string
	desktop := httptest.NewServer(embedPage(&base, browserToken("agent")))
	defer desktop.Close()
	elsewhere := httptest.NewServer(embedPage(&base, browserToken("agent")))
	defer elsewhere.Close()
	d := startDaemon(t, "--auth-mode", "token", "--auth-token-file", tokens,
		"--recording-enabled=true", "--recording-dir", filepath.Join(dir, "recordings"),
		"--http-cors-origins", desktop.URL)
	base = "http://" + d.ready.HTTP

	// The call: speech from both parties; after a second the customer keys the card.
	r := rand.New(rand.NewPCG(20, 26))
	const lead = 1000 * audioPerMs
	var bursts []keyBurst
	pos := lead
	for i := range testCard {
		bursts = append(bursts, keyBurst{key: testCard[i], at: pos, dur: 70 * audioPerMs, dbm0: -10})
		pos += 130 * audioPerMs
	}
	n := (pos + 1500*audioPerMs) / audioFrame * audioFrame
	speech := promptSpeech(t, n, 10*audioRate)
	for i := lead - 20*audioPerMs; i < len(speech); i++ {
		speech[i] *= 0.1 // the customer keys quietly after talking
	}
	custStream := packetizeG711(audioPCMU, 0x5eed0001, 100, 1000, speechWithBursts(speech, bursts, r))
	agentStream := packetizeG711(audioPCMU, 0x5eed0002, 200, 5000, speechWithBursts(promptSpeech(t, n, 60*audioRate), nil, r))
	cust, agent := newEndpoint(t, "udp4", "127.0.0.1:0"), newEndpoint(t, "udp4", "127.0.0.1:0")
	s, err := d.session.CreateSession(as(d.ctx(), "platform"), &hushv1.CreateSessionRequest{
		CallId: "call-0042-browser", RequestId: "create:call-0042-browser", AgentId: "a-17",
		Customer: &hushv1.Leg{RemoteAddr: cust.addr().String()}, Agent: &hushv1.Leg{RemoteAddr: agent.addr().String()}})
	if err != nil {
		t.Fatal(err)
	}

	// The agent's panel finds the call.
	page := tab(t, bctx)
	signIn(t, page, base, "agent", "/agent?agent=a-17")
	waitJS(t, page, 10*time.Second, `((document.querySelector(".hush-panel .call")||{}).textContent||"").includes("call-0042-browser")`)
	// The agent pauses the recording for the payment and takes it, with the keyboard
	// alone: Tab to the button, Enter.
	within(t, page, 5*time.Second, chromedp.Focus(chromedp.CSS(".hush-panel .actions button")), chromedp.KeyEvent("\r"))
	waitJS(t, page, 5*time.Second, `document.querySelector(".hush-panel .state.paused") !== null`)
	within(t, page, 5*time.Second, chromedp.KeyEvent("\t"))
	if f := js[string](t, page, `document.activeElement.textContent`); f != "Take payment" {
		t.Fatalf("Tab from the pause button reaches %q, want Take payment", f)
	}
	within(t, page, 5*time.Second, chromedp.KeyEvent("\r"))
	waitJS(t, page, 5*time.Second, `document.getElementById("hush-live").textContent.includes("Secure capture on")`)
	if h := js[string](t, page, `document.getElementById("hush-hears").textContent`); !strings.Contains(h, "tone for each key") {
		t.Errorf("the panel tells the agent they hear %q; the default masking is a tone per key", h)
	}

	// The customer talks and keys.
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(n/audioFrame)*audioPtime+10*time.Second)
	defer cancel()
	type sendResult struct {
		sent []time.Time
		err  error
	}
	custDone, agentDone := make(chan sendResult, 1), make(chan sendResult, 1)
	go func() {
		s, err := paceSend(ctx, cust.conn, s.Customer.LocalAddr, custStream.ticks)
		custDone <- sendResult{s, err}
	}()
	go func() {
		s, err := paceSend(ctx, agent.conn, s.Agent.LocalAddr, agentStream.ticks)
		agentDone <- sendResult{s, err}
	}()

	// '*'s appear as the keys come, never a digit.
	stars := func() string { return js[string](t, page, `document.getElementById("hush-stars").textContent`) }
	for _, k := range []int{1, 5, 9, 13} {
		waitJS(t, page, 10*time.Second, `document.getElementById("hush-stars").textContent.length >= `+strconv.Itoa(k))
		if got := stars(); got != strings.Repeat("*", len(got)) || len(got) >= 16 {
			t.Fatalf("after key %d the panel shows %q, want only '*'s, fewer than 16", k, got)
		}
	}
	waitJS(t, page, 10*time.Second, `document.getElementById("hush-verdict").textContent.length > 0`)
	if got := stars(); got != strings.Repeat("*", 16) {
		t.Errorf("panel shows %q at the end, want 16 '*'", got)
	}
	verdict := js[string](t, page, `document.getElementById("hush-verdict").textContent`)
	live := js[string](t, page, `document.getElementById("hush-live").textContent`)
	if !strings.Contains(verdict, "passes the check-digit test") || !strings.Contains(live, "16 digits") {
		t.Errorf("verdict %q, live region %q: want the Luhn verdict announced", verdict, live)
	}
	if role := js[string](t, page, `document.getElementById("hush-live").getAttribute("aria-live")`); role != "polite" {
		t.Errorf("progress region aria-live=%q", role)
	}
	if hits := cardLeaks(js[string](t, page, `document.documentElement.outerHTML`), 4); len(hits) > 0 {
		t.Errorf("the panel's page holds card digits %q", hits)
	}
	screenshot(t, page, "agent-panel.png")
	within(t, page, 5*time.Second, chromedp.Click(chromedp.CSS(".hush-panel .actions button")))
	waitJS(t, page, 5*time.Second, `document.querySelector(".hush-panel .state.paused") === null`)

	cr, ar := <-custDone, <-agentDone
	if cr.err != nil || ar.err != nil {
		t.Fatalf("sending: %v %v", cr.err, ar.err)
	}
	if _, err := d.session.DeleteSession(as(d.ctx(), "platform"), &hushv1.DeleteSessionRequest{SessionId: s.SessionId, RequestId: "end:call-0042-browser"}); err != nil {
		t.Fatal(err)
	}

	// An agent's token does not open the QA console.
	within(t, page, 10*time.Second, chromedp.Navigate(base+"/qa"))
	if h := js[string](t, page, `document.querySelector("h1").textContent`); h != "Not available" ||
		!strings.Contains(js[string](t, page, `document.getElementById("refusal").textContent`), "role agent may not") {
		t.Errorf("agent at /qa: heading %q", h)
	}
	if strings.Contains(js[string](t, page, `document.body.textContent`), "call-0042-browser") {
		t.Error("the refusal page shows recordings")
	}

	// QA finds the recording and opens it.
	signIn(t, page, base, "qa", "/qa?call_id=call-0042-browser")
	within(t, page, 10*time.Second, chromedp.WaitReady(chromedp.CSS("#results a")))
	within(t, page, 20*time.Second, chromedp.Click(chromedp.CSS("#results a")), chromedp.WaitReady(chromedp.ID("wave")))
	waitJS(t, page, 20*time.Second, `document.querySelectorAll("#wave rect.span.mask").length >= 16`)

	// The first masked span sits where the first key was pressed: the recording starts at
	// the session's creation, so that is the first packet's send time after the
	// recording's start, plus the lead.
	list, err := hushv1.NewRecordingServiceClient(d.conn).ListRecordings(as(d.ctx(), "qa"), &hushv1.ListRecordingsRequest{CallId: "call-0042-browser"})
	if err != nil || len(list.GetRecordings()) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	want := cr.sent[0].Sub(list.Recordings[0].GetStartTime().AsTime()).Seconds() + float64(lead)/audioRate
	x := js[float64](t, page, `Math.min(...[...document.querySelectorAll("#wave rect.span.mask")].map(r => parseFloat(r.getAttribute("x"))))`)
	cols := js[float64](t, page, `parseFloat(document.getElementById("wave").dataset.columns)`)
	secs := js[float64](t, page, `parseFloat(document.getElementById("wave").dataset.seconds)`)
	if got := x / cols * secs; math.Abs(got-want) > 0.15 {
		t.Errorf("first masked span drawn at %.3f s, the first key was at %.3f s", got, want)
	}
	if lbl := js[string](t, page, `document.querySelector("#spans tr.mask").textContent`); !strings.Contains(lbl, "Keypad tones masked (customer)") {
		t.Errorf("mask span label %q", lbl)
	}
	if p := js[string](t, page, `(document.querySelector("#wave rect.span.pause title")||{}).textContent||""`); !strings.Contains(p, "Paused by alice") ||
		!strings.Contains(p, "paused from the payment panel") {
		t.Errorf("paused span labelled %q, want who and why", p)
	}
	if a := js[string](t, page, `document.getElementById("audit").textContent`); !strings.Contains(a, "capture.start") ||
		!strings.Contains(a, "recording.pause") || !strings.Contains(a, "alice") {
		t.Errorf("audit entries do not show the capture by alice: %q", a)
	}
	screenshot(t, page, "qa-recording.png")

	// Clicking the waveform plays from there.
	within(t, page, 5*time.Second, chromedp.Click(chromedp.CSS("#wave svg")))
	waitJS(t, page, 10*time.Second, `!document.getElementById("audio").paused && document.getElementById("audio").currentTime > 0.2`)

	// Desktops: the allowed origin's page gets answers; another origin's is refused.
	ok := tab(t, bctx)
	within(t, ok, 10*time.Second, chromedp.Navigate(desktop.URL))
	waitJS(t, ok, 10*time.Second, `((document.querySelector(".hush-panel .call")||{}).textContent||"").includes("No call right now")`)
	bad := tab(t, bctx)
	within(t, bad, 10*time.Second, chromedp.Navigate(elsewhere.URL))
	waitJS(t, bad, 10*time.Second, `((document.getElementById("hush-problem")||{}).textContent||"").length > 0`)
	if c := js[string](t, bad, `document.querySelector(".hush-panel .call").textContent`); !strings.Contains(c, "Looking for your call") {
		t.Errorf("a page of a refused origin got an answer: %q", c)
	}
}
