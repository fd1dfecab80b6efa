package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// dashboardSchemaVersion is the Grafana dashboard schema the JSON targets; newer Grafana
// migrates it on load.
const dashboardSchemaVersion = 39

// grafanaDashboard is the part of the dashboard JSON these checks read.
type grafanaDashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	ID            *int   `json:"id"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource *datasourceRef  `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
	Panels []grafanaPanel `json:"panels"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type grafanaPanel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource *datasourceRef `json:"datasource"`
	GridPos    struct{ H, W, X, Y int }
	Targets    []struct {
		RefID      string         `json:"refId"`
		Expr       string         `json:"expr"`
		Datasource *datasourceRef `json:"datasource"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"`
}

func loadDashboard(t testing.TB) ([]byte, grafanaDashboard) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root(t), "deploy", "grafana", "hush.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("hush.json: %v", err)
	}
	return raw, d
}

// DashboardExprs returns every PromQL expression of the dashboard, panels and variables,
// keyed by where it is ("panel 7 A").
func dashboardExprs(d grafanaDashboard) map[string]string {
	out := map[string]string{}
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				out[fmt.Sprintf("panel %d %q %s", p.ID, p.Title, tg.RefID)] = tg.Expr
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// The dashboard is valid against Grafana's dashboard schema (the foundation SDK's strict
// decoding: unknown fields, wrong types and missing required fields fail, panel options
// and Prometheus queries included), targets one schema version, and imports anywhere:
// every panel and query takes its data source from the $datasource variable and every
// query is scoped by $job and $instance.
func TestDashboardLoadsWithoutEdits(t *testing.T) {
	raw, d := loadDashboard(t)
	if err := strictDashboard(raw); err != nil {
		t.Fatalf("hush.json is not a valid dashboard: %v", err)
	}
	if d.SchemaVersion != dashboardSchemaVersion {
		t.Errorf("schemaVersion %d, want %d", d.SchemaVersion, dashboardSchemaVersion)
	}
	if d.UID == "" || len(d.UID) > 40 || d.Title == "" {
		t.Errorf("uid %q, title %q: both needed, uid at most 40 characters", d.UID, d.Title)
	}
	if d.ID != nil {
		t.Error("id must be null so that an import creates the dashboard instead of overwriting one")
	}

	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
		if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != "${datasource}") {
			t.Errorf("variable %s: data source %+v, want the $datasource variable", v.Name, v.Datasource)
		}
	}
	if vars["datasource"] != "datasource" || vars["job"] != "query" || vars["instance"] != "query" {
		t.Fatalf("variables %v: want datasource (type datasource), job and instance (type query)", vars)
	}

	ids := map[int]bool{}
	var walk func([]grafanaPanel)
	occupied := map[[2]int]int{}
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel id %d used twice", p.ID)
			}
			ids[p.ID] = true
			g := p.GridPos
			if g.W < 1 || g.H < 1 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
				t.Errorf("panel %d %q: gridPos %+v outside the 24-column grid", p.ID, p.Title, g)
			}
			for x := g.X; x < g.X+g.W; x++ {
				for y := g.Y; y < g.Y+g.H; y++ {
					if other, ok := occupied[[2]int{x, y}]; ok {
						t.Errorf("panel %d %q overlaps panel %d", p.ID, p.Title, other)
						return
					}
					occupied[[2]int{x, y}] = p.ID
				}
			}
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" || p.Datasource.Type != "prometheus" {
				t.Errorf("panel %d %q: data source %+v, want {prometheus ${datasource}}", p.ID, p.Title, p.Datasource)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %d %q has no query", p.ID, p.Title)
			}
			refs := map[string]bool{}
			for _, tg := range p.Targets {
				if tg.RefID == "" || refs[tg.RefID] {
					t.Errorf("panel %d %q: refId %q empty or repeated", p.ID, p.Title, tg.RefID)
				}
				refs[tg.RefID] = true
				if tg.Datasource == nil || tg.Datasource.UID != "${datasource}" {
					t.Errorf("panel %d %q %s: query data source %+v, want ${datasource}", p.ID, p.Title, tg.RefID, tg.Datasource)
				}
			}
		}
	}
	walk(d.Panels)

	selector := regexp.MustCompile(`\b((?:hush|go|process)_[a-z0-9_]+)(\{[^}]*\})?`)
	for where, expr := range dashboardExprs(d) {
		ms := selector.FindAllStringSubmatch(expr, -1)
		if len(ms) == 0 {
			t.Errorf("%s: %q reads no hush metric", where, expr)
		}
		for _, m := range ms {
			if !strings.Contains(m[2], `job=~"$job"`) || !strings.Contains(m[2], `instance=~"$instance"`) {
				t.Errorf("%s: %s is not scoped by $job and $instance: %q", where, m[1], expr)
			}
		}
	}
}

// strictDashboard decodes raw as Grafana's dashboard schema does, refusing unknown fields,
// wrong types and missing required fields, panel options and queries included.
func strictDashboard(raw []byte) error {
	plugins.RegisterDefaultPlugins()
	var d dashboard.Dashboard
	err := d.UnmarshalJSONStrict(raw)
	// The SDK returns its error list as an error even when the list is empty.
	if be, ok := err.(cog.BuildErrors); ok && len(be) == 0 {
		return nil
	}
	return err
}

// The strict decoding refuses what Grafana would not understand, so the test above means
// something. (It does not check enum values: a misspelt colorMode passes.)
func TestStrictDashboardRefusesMistakes(t *testing.T) {
	raw, _ := loadDashboard(t)
	for name, edit := range map[string]func(map[string]any){
		"unknown top-level field": func(d map[string]any) { d["panelz"] = []any{} },
		"unknown panel option": func(d map[string]any) {
			panel(d, "stat")["options"].(map[string]any)["colourMode"] = "background"
		},
		"unknown query field": func(d map[string]any) {
			panel(d, "timeseries")["targets"].([]any)[0].(map[string]any)["exprr"] = "up"
		},
		"wrong type": func(d map[string]any) { d["refresh"] = 30 },
		"missing required field": func(d map[string]any) {
			delete(panel(d, "timeseries")["options"].(map[string]any)["legend"].(map[string]any), "placement")
		},
		"wrong type in a panel": func(d map[string]any) { panel(d, "heatmap")["gridPos"].(map[string]any)["w"] = "12" },
	} {
		var d map[string]any
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatal(err)
		}
		edit(d)
		bad, _ := json.Marshal(d)
		if strictDashboard(bad) == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// panel returns the first panel of a type in a decoded dashboard.
func panel(d map[string]any, typ string) map[string]any {
	for _, p := range d["panels"].([]any) {
		if pm := p.(map[string]any); pm["type"] == typ {
			return pm
		}
	}
	panic("no " + typ + " panel")
}

// Every dashboard query is valid PromQL: promtool parses each one (Grafana's interval
// variables replaced) as a recording rule.
func TestDashboardQueriesParse(t *testing.T) {
	promtool := debianTool(t, "promtool", "prometheus")
	_, d := loadDashboard(t)
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for where, expr := range dashboardExprs(d) {
		expr = grafanaVars.Replace(expr)
		q, _ := json.Marshal(expr) // a JSON string is a YAML string
		fmt.Fprintf(&b, "      - record: hush:dashboard_%d\n        expr: %s # %s\n", n, q, where)
		n++
	}
	f := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(f, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out := run(t, "", promtool, "check", "rules", f)
	if !strings.Contains(out, fmt.Sprintf("SUCCESS: %d rules found", n)) {
		t.Fatalf("promtool check rules on the dashboard's queries:\n%s", out)
	}
}

// grafanaVars stands in for the values Grafana substitutes before a query is sent.
var grafanaVars = strings.NewReplacer("$__rate_interval", "1m", "$__range", "6h", "$__interval", "30s",
	"$job", "hush", "$instance", ".*")
