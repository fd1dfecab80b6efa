package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/hushmedia/hush/internal/session"
)

func promDir(t testing.TB) string { return filepath.Join(root(t), "deploy", "prometheus") }

// The alert rules parse (promtool check rules) and behave as their unit tests say
// (promtool test rules): each alert fires on the series that mean trouble and not on
// healthy ones.
func TestAlertRules(t *testing.T) {
	promtool := debianTool(t, "promtool", "prometheus")
	dir := promDir(t)
	if out := run(t, dir, promtool, "check", "rules", "hush-rules.yml"); !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool check rules:\n%s", out)
	}
	if out := run(t, dir, promtool, "test", "rules", "hush-rules.test.yml"); !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules:\n%s", out)
	}
}

type ruleFile struct {
	Groups []struct {
		Name  string
		Rules []struct {
			Alert       string
			Record      string
			Expr        string
			For         string
			Labels      map[string]string
			Annotations map[string]string
		}
	}
}

func loadRules(t testing.TB) ruleFile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(promDir(t), "hush-rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(raw, &rf); err != nil {
		t.Fatal(err)
	}
	return rf
}

// Every alert has a severity, a summary and a description, and its unit tests see it
// both fire and stay quiet; the tests name no alert that does not exist.
func TestEveryAlertTestedBothWays(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(promDir(t), "hush-rules.test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var tf struct {
		Tests []struct {
			Name          string
			AlertRuleTest []struct {
				Alertname string
				ExpAlerts []map[string]any `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		}
	}
	if err := yaml.Unmarshal(raw, &tf); err != nil {
		t.Fatal(err)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tf.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	alerts := map[string]bool{}
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts[r.Alert] = true
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", r.Alert, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: needs a summary and a description", r.Alert)
			}
			if !fires[r.Alert] {
				t.Errorf("%s: no test sees it fire", r.Alert)
			}
			if !quiet[r.Alert] {
				t.Errorf("%s: no test sees it stay quiet", r.Alert)
			}
		}
	}
	for name := range fires {
		if !alerts[name] {
			t.Errorf("tests expect alert %s, which hush-rules.yml does not define", name)
		}
	}
	for _, want := range []string{"HushDown", "HushLateMask", "HushMaskOverflow", "HushFailClosedDrops",
		"HushRecordingFailures", "HushMediaPortsNearExhaustion", "HushPacketLoss", "HushForwardLatencyHigh",
		"HushSuspiciousAgentActivity", "HushAuditWriteFailures"} {
		if !alerts[want] {
			t.Errorf("alert %s is missing", want)
		}
	}
}

// The alert's unit tests see it fire for every reason hushd counts in
// hush_agent_suspicious_total, and for no other: a new reason needs its test.
func TestSuspiciousAlertCoversEveryReason(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(promDir(t), "hush-rules.test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var tf struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string
				ExpAlerts []struct {
					ExpLabels map[string]string `yaml:"exp_labels"`
				} `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		}
	}
	if err := yaml.Unmarshal(raw, &tf); err != nil {
		t.Fatal(err)
	}
	fired := map[string]bool{}
	for _, tc := range tf.Tests {
		for _, a := range tc.AlertRuleTest {
			if a.Alertname != "HushSuspiciousAgentActivity" {
				continue
			}
			for _, e := range a.ExpAlerts {
				fired[e.ExpLabels["reason"]] = true
			}
		}
	}
	for _, r := range session.SuspicionReasons {
		if !fired[r] {
			t.Errorf("no test sees HushSuspiciousAgentActivity fire for reason %s", r)
		}
		delete(fired, r)
	}
	for r := range fired {
		t.Errorf("tests expect reason %s, which hushd never counts", r)
	}
}
