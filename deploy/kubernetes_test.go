package deploy

import (
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// kustomizeBuild renders the base and the example overlay. The overlay's Secret files are
// the operator's; throwaway ones stand in for them in a copy of deploy/kubernetes.
func kustomizeBuild(t testing.TB) map[string]string {
	t.Helper()
	kustomize := goTool(t, "kustomize")
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(root(t), "deploy", "kubernetes"))); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"tls.crt", "tls.key", "tokens.jsonl"} {
		if err := os.WriteFile(filepath.Join(dir, "example", f), []byte("placeholder\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return map[string]string{
		"base":    run(t, dir, kustomize, "build", "base"),
		"example": run(t, dir, kustomize, "build", "example"),
	}
}

// kubeconform validates a stream of manifests against schemas made for their kinds.
func kubeconform(t testing.TB, bin string, defs map[string]map[string]any, manifests string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	kinds := map[[2]string]bool{}
	for _, o := range decodeObjects(t, manifests) {
		kinds[[2]string{str(o, "apiVersion"), str(o, "kind")}] = true
	}
	writeKubeSchemas(t, dir, defs, kinds)
	cmd := exec.Command(bin, "-strict", "-summary", "-kubernetes-version", kubeVersion,
		"-schema-location", filepath.Join(dir, "{{ .ResourceKind }}{{ .KindSuffix }}.json"), "-")
	cmd.Stdin = strings.NewReader(manifests)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// The kustomize output of the base and of the example overlay is valid Kubernetes
// (kubeconform -strict against the Kubernetes OpenAPI schemas): no unknown field, no
// wrong type, no missing required field.
func TestKubernetesManifestsConform(t *testing.T) {
	bin := goTool(t, "kubeconform")
	defs := kubeDefinitions(t)
	for name, manifests := range kustomizeBuild(t) {
		out, err := kubeconform(t, bin, defs, manifests)
		if err != nil || !strings.Contains(out, "Invalid: 0, Errors: 0, Skipped: 0") {
			t.Errorf("kubeconform %s: %v\n%s", name, err, out)
		}
	}
}

// The same check refuses a misspelt field, a wrong type and a missing required field, so
// a pass above means something.
func TestKubeconformRefusesMistakes(t *testing.T) {
	bin := goTool(t, "kubeconform")
	defs := kubeDefinitions(t)
	base := kustomizeBuild(t)["base"]
	for name, bad := range map[string]string{
		"misspelt field": strings.Replace(base, "readinessProbe:", "readynessProbe:", 1),
		"wrong type":     strings.Replace(base, "replicas: 2", "replicas: two", 1),
		"probe field":    strings.Replace(base, "service: hush.v1.SessionService", "servce: hush.v1.SessionService", 1),
		"missing field":  strings.Replace(base, "\n        name: hushd\n", "\n", 1), // the container's name
	} {
		if bad == base {
			t.Fatalf("%s: the edit did not apply", name)
		}
		if out, err := kubeconform(t, bin, defs, bad); err == nil || !strings.Contains(out, "StatefulSet hushd is invalid") {
			t.Errorf("%s: kubeconform did not refuse the StatefulSet (%v):\n%s", name, err, out)
		}
	}
}

// The pods do what the deployment promises: node network for the media ports, gRPC
// health probes on the health listener hushd's config opens, a drain that fits the grace
// period, no root, no capabilities, a read-only root with writable state where the config
// writes, secrets from Secrets, a disruption budget that selects them.
func TestKubernetesPodSpec(t *testing.T) {
	objs := decodeObjects(t, kustomizeBuild(t)["example"])
	byKind := map[string]map[string]any{}
	for _, o := range objs {
		byKind[str(o, "kind")+"/"+str(o, "metadata", "name")] = o
	}
	sts := byKind["StatefulSet/hushd"]
	if sts == nil {
		t.Fatalf("no StatefulSet hushd in %v", keys(byKind))
	}
	pod := obj(sts, "spec", "template", "spec")
	c := list(pod, "containers")[0].(map[string]any)

	// The configuration the pod reads.
	var cmName string
	for _, v := range list(pod, "volumes") {
		if cm := obj(v.(map[string]any), "configMap"); cm != nil {
			cmName = str(cm, "name")
		}
	}
	cm := byKind["ConfigMap/"+cmName]
	if cm == nil || !strings.HasPrefix(cmName, "hushd-config-") {
		t.Fatalf("the pod's ConfigMap %q is not the generated hushd-config", cmName)
	}
	cfgFile := filepath.Join(t.TempDir(), "hushd.yaml")
	if err := os.WriteFile(cfgFile, []byte(str(cm, "data", "hushd.yaml")), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]map[string]any{}
	for _, e := range list(c, "env") {
		env[str(e.(map[string]any), "name")] = e.(map[string]any)
	}
	if str(env["HUSH_CONFIG"], "value") != "/etc/hush/config/hushd.yaml" ||
		str(env["HUSH_MEDIA_ADVERTISE_ADDRESS"], "valueFrom", "fieldRef", "fieldPath") != "status.hostIP" {
		t.Errorf("env %v: want HUSH_CONFIG at the ConfigMap and the node's IP advertised", env)
	}
	cfg := loadConfig(t, cfgFile, []string{"HUSH_MEDIA_ADVERTISE_ADDRESS=192.0.2.7"})

	if pod["hostNetwork"] != true || str(pod, "dnsPolicy") != "ClusterFirstWithHostNet" {
		t.Error("want hostNetwork with dnsPolicy ClusterFirstWithHostNet")
	}
	if cfg.Media.PortMin <= 32767 && cfg.Media.PortMax >= 30000 {
		t.Errorf("media ports %d-%d overlap the NodePort range 30000-32767 on the node's network", cfg.Media.PortMin, cfg.Media.PortMax)
	}
	ports := map[string]int{}
	for _, p := range list(c, "ports") {
		ports[str(p.(map[string]any), "name")] = num(p.(map[string]any), "containerPort")
	}
	for name, listen := range map[string]string{"grpc": cfg.GRPC.Listen, "health": cfg.GRPC.HealthListen, "metrics": cfg.HTTP.Listen} {
		_, p, _ := net.SplitHostPort(listen)
		if strconv.Itoa(ports[name]) != p {
			t.Errorf("containerPort %s %d, but hushd listens on %s", name, ports[name], listen)
		}
	}

	// Probes: native gRPC on the health listener; readiness follows the session service
	// (NOT_SERVING from a drain's start), liveness the server as a whole.
	_, healthPort, _ := net.SplitHostPort(cfg.GRPC.HealthListen)
	for probe, service := range map[string]string{"readinessProbe": "hush.v1.SessionService", "livenessProbe": "", "startupProbe": ""} {
		g := obj(c, probe, "grpc")
		if g == nil || strconv.Itoa(num(g, "port")) != healthPort || str(g, "service") != service {
			t.Errorf("%s %v: want grpc on port %s, service %q", probe, obj(c, probe), healthPort, service)
		}
	}

	// Termination: preStop pause, then SIGTERM's drain, then hushd's close, within the grace.
	preStop := time.Duration(num(c, "lifecycle", "preStop", "sleep", "seconds")) * time.Second
	grace := time.Duration(num(pod, "terminationGracePeriodSeconds")) * time.Second
	if preStop <= 0 || grace <= preStop+cfg.Session.DrainTimeout+hushdCloseBound {
		t.Errorf("grace %v for preStop %v + drain %v + close %v", grace, preStop, cfg.Session.DrainTimeout, hushdCloseBound)
	}

	// Security: no root, no capabilities, no escalation, read-only root.
	if sc := obj(pod, "securityContext"); sc["runAsNonRoot"] != true || num(sc, "runAsUser") == 0 ||
		str(sc, "seccompProfile", "type") == "" || num(sc, "fsGroup") == 0 {
		t.Errorf("pod securityContext %v", sc)
	}
	sc := obj(c, "securityContext")
	if sc["readOnlyRootFilesystem"] != true || sc["allowPrivilegeEscalation"] != false || sc["runAsNonRoot"] != true {
		t.Errorf("container securityContext %v", sc)
	}
	if drop := list(sc, "capabilities", "drop"); len(drop) != 1 || drop[0] != "ALL" || obj(sc, "capabilities")["add"] != nil {
		t.Errorf("capabilities %v: want drop [ALL], add nothing", obj(sc, "capabilities"))
	}
	if pod["automountServiceAccountToken"] != false {
		t.Error("the pod mounts a service account token it never uses")
	}

	// Mounts: hushd writes only where a writable volume is; secrets and config read-only.
	mounts := map[string]map[string]any{}
	for _, m := range list(c, "volumeMounts") {
		mounts[str(m.(map[string]any), "mountPath")] = m.(map[string]any)
	}
	volumes := map[string]map[string]any{}
	for _, v := range list(pod, "volumes") {
		volumes[str(v.(map[string]any), "name")] = v.(map[string]any)
	}
	for _, v := range list(sts, "spec", "volumeClaimTemplates") {
		volumes[str(v.(map[string]any), "metadata", "name")] = map[string]any{"persistentVolumeClaim": true}
	}
	mountOf := func(path string) (map[string]any, map[string]any) {
		best := ""
		for mp := range mounts {
			if (path == mp || strings.HasPrefix(path, mp+"/")) && len(mp) > len(best) {
				best = mp
			}
		}
		if best == "" {
			return nil, nil
		}
		return mounts[best], volumes[str(mounts[best], "name")]
	}
	for key, path := range map[string]string{"recording.dir": cfg.Recording.Dir, "audit.file": filepath.Dir(cfg.Audit.File)} {
		m, v := mountOf(path)
		if m == nil || m["readOnly"] == true || v["persistentVolumeClaim"] == nil {
			t.Errorf("%s %s is not on a writable persistent volume (mount %v)", key, path, m)
		}
	}
	secrets := map[string]bool{}
	for key, path := range map[string]string{"tls.cert_file": cfg.TLS.CertFile, "tls.key_file": cfg.TLS.KeyFile, "auth.token_file": cfg.Auth.TokenFile} {
		m, v := mountOf(path)
		s := obj(v, "secret")
		if m == nil || m["readOnly"] != true || s == nil {
			t.Errorf("%s %s is not on a read-only Secret volume", key, path)
			continue
		}
		secrets[str(s, "secretName")] = true
		if byKind["Secret/"+str(s, "secretName")] == nil {
			t.Errorf("%s: Secret %s is not in the overlay's output", key, str(s, "secretName"))
		}
	}
	if len(secrets) == 0 {
		t.Error("no Secret volume")
	}

	// The disruption budget and the Service select these pods.
	labels := obj(sts, "spec", "template", "metadata", "labels")
	for _, name := range []string{"PodDisruptionBudget/hushd", "Service/hushd"} {
		o := byKind[name]
		sel := obj(o, "spec", "selector", "matchLabels")
		if sel == nil {
			sel = obj(o, "spec", "selector")
		}
		if len(sel) == 0 {
			t.Errorf("%s selects nothing", name)
		}
		for k, v := range sel {
			if labels[k] != v {
				t.Errorf("%s selects %s=%v; the pods have %v", name, k, v, labels[k])
			}
		}
	}
	if ns := byKind["Namespace/hush"]; str(ns, "metadata", "labels", "pod-security.kubernetes.io/enforce") != "privileged" {
		t.Error("the example namespace does not allow hostNetwork (Pod Security enforce: privileged)")
	}
}

func decodeObjects(t testing.TB, manifests string) []map[string]any {
	t.Helper()
	var out []map[string]any
	dec := yaml.NewDecoder(strings.NewReader(manifests))
	for {
		var o map[string]any
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if o != nil {
			out = append(out, o)
		}
	}
	if len(out) == 0 {
		t.Fatal("no objects")
	}
	return out
}

func obj(m map[string]any, path ...string) map[string]any {
	for _, p := range path {
		next, _ := m[p].(map[string]any)
		m = next
	}
	return m
}

func str(m map[string]any, path ...string) string {
	s, _ := obj(m, path[:len(path)-1]...)[path[len(path)-1]].(string)
	return s
}

func num(m map[string]any, path ...string) int {
	n, _ := obj(m, path[:len(path)-1]...)[path[len(path)-1]].(int)
	return n
}

func list(m map[string]any, path ...string) []any {
	l, _ := obj(m, path[:len(path)-1]...)[path[len(path)-1]].([]any)
	return l
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
