package deploy

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// kubeVersion is the Kubernetes release whose OpenAPI spec validates the manifests: the
// k8s.io/kubernetes module of that version carries it (api/openapi-spec/swagger.json), so
// the Go module proxy, which CI reaches, is its only source. `make tools` downloads it
// (the Makefile's KUBERNETES_VERSION is the same).
const kubeVersion = "1.34.2"

// kubeDefinitions reads the OpenAPI definitions of kubeVersion from the module cache.
func kubeDefinitions(t testing.TB) map[string]map[string]any {
	t.Helper()
	out, err := exec.Command("go", "mod", "download", "-json", "k8s.io/kubernetes@v"+kubeVersion).Output()
	var mod struct{ Dir string }
	if err == nil {
		err = json.Unmarshal(out, &mod)
	}
	if err != nil || mod.Dir == "" {
		missing(t, "Kubernetes OpenAPI spec (module k8s.io/kubernetes@v"+kubeVersion+") not available: run 'make tools'")
	}
	raw, err := os.ReadFile(filepath.Join(mod.Dir, "api", "openapi-spec", "swagger.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	return spec.Definitions
}

// writeKubeSchemas writes, for each apiVersion/kind given, the JSON schema kubeconform
// looks for under dir ({kind}{-group}-{version}.json): the OpenAPI definition with every
// $ref inlined ("standalone"), additional properties refused where the spec lists the
// properties ("strict"), null allowed for any value, and the spec's int-or-string and
// quantity strings taking numbers too, as the API server does. This is what kubeconform's
// own openapi2jsonschema produces; doing it here keeps CI offline but for the module proxy.
func writeKubeSchemas(t testing.TB, dir string, defs map[string]map[string]any, kinds map[[2]string]bool) {
	t.Helper()
	byGVK := map[[2]string]string{}
	for name, d := range defs {
		gvks, _ := d["x-kubernetes-group-version-kind"].([]any)
		for _, g := range gvks {
			m := g.(map[string]any)
			apiVersion := m["version"].(string)
			if grp := m["group"].(string); grp != "" {
				apiVersion = grp + "/" + apiVersion
			}
			byGVK[[2]string{apiVersion, m["kind"].(string)}] = name
		}
	}
	for k := range kinds {
		name, ok := byGVK[k]
		if !ok {
			t.Fatalf("Kubernetes %s has no %s %s", kubeVersion, k[0], k[1])
		}
		schema := inline(t, defs, defs[name], map[string]bool{name: true})
		raw, err := json.Marshal(schema)
		if err != nil {
			t.Fatal(err)
		}
		group, version, ok := strings.Cut(k[0], "/")
		suffix := "-" + strings.ToLower(strings.Split(group, ".")[0])
		if ok {
			suffix += "-" + version
		}
		file := filepath.Join(dir, strings.ToLower(k[1])+suffix+".json")
		if err := os.WriteFile(file, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// inline resolves $ref recursively. A definition that refers to itself (none of the kinds
// deployed here does) becomes an open schema at the second visit.
func inline(t testing.TB, defs map[string]map[string]any, s map[string]any, seen map[string]bool) map[string]any {
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/definitions/")
		switch name {
		case "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
			return map[string]any{"type": []any{"string", "integer", "null"}}
		case "io.k8s.apimachinery.pkg.api.resource.Quantity":
			return map[string]any{"type": []any{"string", "number", "null"}}
		}
		if seen[name] {
			return map[string]any{}
		}
		d, ok := defs[name]
		if !ok {
			t.Fatalf("unknown $ref %s", ref)
		}
		next := map[string]bool{name: true}
		for k := range seen {
			next[k] = true
		}
		return inline(t, defs, d, next)
	}
	out := map[string]any{}
	for k, v := range s {
		switch k {
		case "format", "x-kubernetes-group-version-kind":
			continue
		case "properties":
			props := map[string]any{}
			for pk, pv := range v.(map[string]any) {
				props[pk] = inline(t, defs, pv.(map[string]any), seen)
			}
			out[k] = props
		case "items", "additionalProperties":
			if m, ok := v.(map[string]any); ok {
				out[k] = inline(t, defs, m, seen)
			} else {
				out[k] = v
			}
		case "type":
			out[k] = []any{v, "null"}
		default:
			out[k] = v
		}
	}
	if _, ok := out["properties"]; ok {
		if _, set := out["additionalProperties"]; !set {
			out["additionalProperties"] = false
		}
	}
	return out
}
