package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/hushmedia/hush/media/dtmf/dtmftest"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// exercised starts a recording hushd, puts it through what an operator's alerts and
// dashboard watch (sessions recording and paused, a refused and an invalid request, a
// session ended) and returns it with its /metrics text.
func exercised(t *testing.T) (*daemon, string) {
	t.Helper()
	d := recordingDaemon(t, t.TempDir())
	cust := newEndpoint(t, "udp4", "127.0.0.1:0")
	var ids []string
	for _, call := range []string{"obs-1", "obs-2", "obs-3"} {
		s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: call,
			Customer: &hushv1.Leg{RemoteAddr: cust.addr().String()}, Agent: &hushv1.Leg{}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.SessionId)
	}
	if _, err := d.session.PauseRecording(d.ctx(), &hushv1.PauseRecordingRequest{SessionId: ids[1]}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.session.DeleteSession(d.ctx(), &hushv1.DeleteSessionRequest{SessionId: ids[2]}); err != nil {
		t.Fatal(err)
	}
	// A duplicate call id is refused (a create failure); an empty one is invalid.
	if _, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: "obs-1",
		Customer: &hushv1.Leg{}, Agent: &hushv1.Leg{}}); err == nil {
		t.Fatal("a second session for call obs-1 was created")
	}
	if _, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{}); err == nil {
		t.Fatal("a session without a call id was created")
	}
	resp, err := http.Get("http://" + d.ready.HTTP + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return d, string(body)
}

// A live /metrics passes `promtool check metrics` (names, units, _total on counters, help
// text), and the operator's series say what hushd is doing: port range use, recordings
// by state, the engine in use.
func TestLiveMetricsPassPromtool(t *testing.T) {
	promtool := dtmftest.Tool(t, "promtool", "prometheus")
	d, body := exercised(t)

	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || out.Len() > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out.String())
	}

	// mediaRange(40) in the harness: 20 pairs; two live sessions with two legs each.
	for sample, want := range map[string]float64{
		"hush_media_port_pairs":                       20,
		"hush_media_port_pairs_in_use":                4,
		`hush_sessions_recording{state="active"}`:     1,
		`hush_sessions_recording{state="paused"}`:     1,
		`hush_sessions_recording{state="failed"}`:     0,
		`hush_sessions_recording{state="stopped"}`:    0,
		"hush_audit_write_failures_total":             0,
		`hush_sessions_ended_total{reason="deleted"}`: 1,
	} {
		if got := d.metric(sample); got != want {
			t.Errorf("%s = %v, want %v", sample, got, want)
		}
	}
	engines := 0
	for _, e := range []string{"io_uring", "epoll", "portable"} {
		if d.metric(`hush_media_engine_info{engine="`+e+`"}`) == 1 {
			engines++
		}
	}
	if engines != 1 {
		t.Errorf("hush_media_engine_info names %d engines, want 1", engines)
	}
}

// lateLabelValues are label values that appear on their first event, not at start, so a
// short run cannot show them all; their label names are still checked.
var lateLabelValues = map[string]bool{
	"hush_session_create_failures_total/reason": true,
	"hush_sessions_ended_total/reason":          true,
}

// exposition is what a /metrics text says: each series name with its label names, and
// the values each label takes.
type exposition struct {
	labels map[string]map[string]bool            // series name -> label names
	values map[string]map[string]map[string]bool // series name -> label -> values
}

var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? `)
var labelPair = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

func parseExposition(body string) exposition {
	e := exposition{labels: map[string]map[string]bool{}, values: map[string]map[string]map[string]bool{}}
	for line := range strings.Lines(body) {
		m := sampleLine.FindStringSubmatch(line)
		if m == nil || strings.HasPrefix(line, "#") {
			continue
		}
		name := m[1]
		if e.labels[name] == nil {
			e.labels[name], e.values[name] = map[string]bool{}, map[string]map[string]bool{}
		}
		for _, lp := range labelPair.FindAllStringSubmatch(m[2], -1) {
			e.labels[name][lp[1]] = true
			if e.values[name][lp[1]] == nil {
				e.values[name][lp[1]] = map[string]bool{}
			}
			e.values[name][lp[1]][lp[2]] = true
		}
	}
	return e
}

// deployExprs returns the PromQL of the alert rules and of the Grafana dashboard, keyed by
// where each is.
func deployExprs(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	raw, err := os.ReadFile("../../deploy/prometheus/hush-rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct{ Alert, Record, Expr string }
		}
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatal(err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			out["rule "+r.Alert+r.Record] = r.Expr
		}
	}
	raw, err = os.ReadFile("../../deploy/grafana/hush.json")
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string
		Targets []struct{ RefID, Expr string }
		Panels  json.RawMessage
	}
	var dash struct {
		Panels     []panel
		Templating struct {
			List []struct {
				Name  string
				Query any
			}
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			out["dashboard "+p.Title+" "+tg.RefID] = tg.Expr
		}
	}
	for _, v := range dash.Templating.List {
		if q, ok := v.Query.(string); ok && strings.Contains(q, "label_values") {
			out["dashboard variable "+v.Name] = q
		}
	}
	return out
}

var (
	metricRef = regexp.MustCompile(`\b((?:hush|go|process)_[a-z0-9_]+)(\{([^}]*)\})?`)
	matcher   = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	literals  = regexp.MustCompile(`^[a-z0-9_]+(\|[a-z0-9_]+)*$`)
)

// The alert rules and the dashboard read only series a real hushd exposes, with labels it
// sets and label values it uses: they cannot drift from the code.
func TestDashboardAndRulesReadExposedSeries(t *testing.T) {
	_, body := exercised(t)
	live := parseExposition(body)
	exprs := deployExprs(t)
	if len(exprs) < 20 {
		t.Fatalf("found only %d expressions in deploy/", len(exprs))
	}
	for where, expr := range exprs {
		for _, m := range metricRef.FindAllStringSubmatch(expr, -1) {
			name := m[1]
			labels, ok := live.labels[name]
			if !ok {
				t.Errorf("%s: %s is not a series hushd exposes", where, name)
				continue
			}
			for _, mm := range matcher.FindAllStringSubmatch(m[3], -1) {
				label, op, val := mm[1], mm[2], mm[3]
				if label == "job" || label == "instance" { // added by Prometheus at scrape
					continue
				}
				if !labels[label] {
					t.Errorf("%s: %s has no label %s", where, name, label)
					continue
				}
				if (op == "=" || op == "=~") && literals.MatchString(val) && !lateLabelValues[name+"/"+label] {
					for v := range strings.SplitSeq(val, "|") {
						if !live.values[name][label][v] {
							t.Errorf("%s: %s{%s} never takes the value %q", where, name, label, v)
						}
					}
				}
			}
		}
	}
}

// TestRuntimeLatencyMetrics: /metrics carries the runtime figures that tell whether the
// Go runtime held packets up (GC pauses and assist, scheduling latency) and the GC
// setting in force, which hushload reads around a run.
func TestRuntimeLatencyMetrics(t *testing.T) {
	d := startDaemon(t)
	for _, s := range []string{
		`go_sched_pauses_total_gc_seconds_count`,
		`go_sched_latencies_seconds_bucket{le="+Inf"}`,
		`go_cpu_classes_gc_mark_assist_cpu_seconds_total`,
		`go_cpu_classes_gc_total_cpu_seconds_total`,
		`go_gc_cycles_total_gc_cycles_total`,
	} {
		if d.metric(s) < 0 {
			t.Errorf("/metrics has no %s", s)
		}
	}
	if g := d.metric("go_gc_gogc_percent"); g <= 0 {
		t.Errorf("go_gc_gogc_percent %v", g)
	}
}
