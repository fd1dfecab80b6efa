package deploy

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"encoding/pem"
	"io"
	"io/fs"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"github.com/hushmedia/hush/internal/auth"
	"github.com/hushmedia/hush/media/relay/relaytest"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// image is what building the Dockerfile outside a container produced.
type image struct {
	rootfs     string
	user       string   // USER of the final stage
	env        []string // ENV of the final stage
	workdir    string
	entrypoint []string
	health     []string // HEALTHCHECK CMD
}

// buildOutsideContainer performs the Dockerfile's steps without a container engine: each
// stage gets a directory for its root, COPY copies from the build context (the repository,
// less Dockerfile.dockerignore) or from an earlier stage's root, RUN runs the same command
// in the stage's WORKDIR with the stage's ENV, with this machine's Go standing in for the
// golang base image's (the lint test holds them to one version). RUN steps may not use
// absolute paths, so they cannot write outside their stage. A file an earlier stage did not
// make comes from its base image; here, from this Debian machine (the CA bundle).
func buildOutsideContainer(t *testing.T) image {
	t.Helper()
	ctxDir := root(t)
	stages, err := parseDockerfile(dockerfile(t))
	if err != nil {
		t.Fatal(err)
	}
	ignore := readIgnore(t, filepath.Join(ctxDir, "deploy", "docker", "Dockerfile.dockerignore"))
	out := t.TempDir()
	roots := map[string]string{}
	var img image
	for i, st := range stages {
		dir := filepath.Join(out, "stage"+strconv.Itoa(i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if st.name != "" {
			roots[st.name] = dir
		}
		workdir := "/"
		env := []string{}
		img = image{rootfs: dir, workdir: "/"}
		for _, in := range st.ins[1:] {
			switch in.cmd {
			case "WORKDIR":
				workdir = in.args
				img.workdir = workdir
				if err := os.MkdirAll(filepath.Join(dir, workdir), 0o755); err != nil {
					t.Fatal(err)
				}
			case "ENV":
				for _, kv := range strings.Fields(in.args) {
					if !strings.Contains(kv, "=") {
						t.Fatalf("line %d: ENV %q: use KEY=value", in.line, kv)
					}
					env = append(env, kv)
				}
				img.env = env
			case "COPY":
				copyStep(t, in, ctxDir, ignore, roots, dir, workdir)
			case "RUN":
				for _, f := range strings.Fields(in.args) {
					if strings.HasPrefix(f, "/") {
						t.Fatalf("line %d: RUN uses the absolute path %s; keep build steps under WORKDIR", in.line, f)
					}
				}
				cmd := exec.Command("sh", "-c", in.args)
				cmd.Dir = filepath.Join(dir, workdir)
				cmd.Env = append(hostGoEnv(), env...)
				if b, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("line %d: RUN %s: %v\n%s", in.line, in.args, err, b)
				}
			case "USER":
				img.user = in.args
			case "ENTRYPOINT":
				img.entrypoint, _ = execForm(in.args)
			case "HEALTHCHECK":
				cmd, _ := strings.CutPrefix(in.args, "CMD ")
				img.health, _ = execForm(strings.TrimSpace(cmd))
			case "EXPOSE", "STOPSIGNAL", "LABEL", "CMD":
			default:
				t.Fatalf("line %d: %s is not supported outside a container", in.line, in.cmd)
			}
		}
	}
	return img
}

// hostGoEnv is the environment RUN steps get besides the stage's ENV: the Go toolchain and
// its caches, as the golang image provides them.
func hostGoEnv() []string {
	env := []string{"HOME=" + os.Getenv("HOME")}
	for _, k := range []string{"PATH", "GOCACHE", "GOMODCACHE", "GOPATH", "GOPROXY", "GONOSUMDB", "GOPRIVATE", "GOTOOLCHAIN"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func copyStep(t *testing.T, in instruction, ctxDir string, ignore []string, roots map[string]string, dir, workdir string) {
	t.Helper()
	f := strings.Fields(in.args)
	srcs, dst := f[:len(f)-1], f[len(f)-1]
	if !strings.HasPrefix(dst, "/") {
		dst = filepath.Join(workdir, dst) + map[bool]string{true: "/"}[strings.HasSuffix(dst, "/") || dst == "."]
	}
	toDir := strings.HasSuffix(dst, "/") || len(srcs) > 1
	from, fromStage := in.flags["from"]
	for _, src := range srcs {
		var path string
		switch {
		case fromStage:
			path = filepath.Join(roots[from], src)
			if _, err := os.Lstat(path); err != nil {
				path = src // not made by the stage: its base image's file
			}
		default:
			path = filepath.Join(ctxDir, src)
		}
		target := filepath.Join(dir, dst)
		if toDir && src != "." {
			target = filepath.Join(target, filepath.Base(src))
		}
		err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(path, p)
			if !fromStage {
				crel, _ := filepath.Rel(ctxDir, p)
				if ignored(ignore, filepath.ToSlash(crel)) {
					if d.IsDir() {
						return filepath.SkipDir
					}
					return nil
				}
			}
			to := filepath.Join(target, rel)
			info, err := d.Info()
			if err != nil {
				return err
			}
			switch {
			case d.IsDir():
				err = os.MkdirAll(to, info.Mode().Perm()|0o700)
			case d.Type()&fs.ModeSymlink != 0:
				var link string
				if link, err = os.Readlink(p); err == nil {
					err = os.Symlink(link, to)
				}
			default:
				err = copyFile(p, to, info.Mode().Perm())
			}
			if err == nil && in.flags["chown"] != "" {
				u, g, _ := strings.Cut(in.flags["chown"], ":")
				err = os.Lchown(to, atoi(u), atoi(g))
			}
			return err
		})
		if err != nil {
			t.Fatalf("line %d: COPY %s: %v", in.line, src, err)
		}
	}
}

func copyFile(from, to string, perm fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// readIgnore reads a .dockerignore: one pattern a line, # comments.
func readIgnore(t *testing.T, path string) []string {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for l := range strings.Lines(string(raw)) {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// ignored matches a context path against .dockerignore patterns: a pattern matches the
// path or a parent folder of it; **/ matches any number of folders.
func ignored(patterns []string, rel string) bool {
	for _, p := range patterns {
		if rest, ok := strings.CutPrefix(p, "**/"); ok {
			parts := strings.Split(rel, "/")
			for i := range parts {
				if m, _ := filepath.Match(rest, strings.Join(parts[i:], "/")); m {
					return true
				}
			}
			continue
		}
		for q := rel; q != "." && q != "/"; q = filepath.Dir(q) {
			if m, _ := filepath.Match(p, q); m {
				return true
			}
		}
	}
	return false
}

// The Dockerfile's steps, run without a container engine, make an image whose binaries
// are static and trimmed, that runs as its non-root user from a chroot of nothing but the
// image's files (no libc, no shell, no /proc), serves, writes its audit log and a
// recording where the image lets that user write, answers its own HEALTHCHECK command,
// and exits 0 on SIGTERM.
func TestImageBuildOutsideContainer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds hushd and hushctl; skipped with -short")
	}
	if os.Geteuid() != 0 {
		missing(t, "the image test needs root: it chowns the image's files and runs hushd chrooted as the image's user")
	}
	img := buildOutsideContainer(t)
	rootfs := img.rootfs

	// Static, trimmed, no cgo: the binaries need nothing the image lacks.
	for _, bin := range []string{"usr/local/bin/hushd", "usr/local/bin/hushctl"} {
		path := filepath.Join(rootfs, bin)
		f, err := elf.Open(path)
		if err != nil {
			t.Fatalf("%s: %v", bin, err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s asks for a dynamic loader", bin)
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("%s needs %v", bin, libs)
		}
		if f.Section(".symtab") != nil {
			t.Errorf("%s keeps its symbol table: not linked with -s", bin)
		}
		f.Close()
		bi, err := buildinfo.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		settings := map[string]string{}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
		if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" {
			t.Errorf("%s built with %v", bin, settings)
		}
	}
	if _, err := os.Lstat(filepath.Join(rootfs, "bin", "sh")); err == nil {
		t.Error("the image has a shell")
	}

	// The user: numeric, not root, named in /etc/passwd, owning the state directories.
	u, g, _ := strings.Cut(img.user, ":")
	uid, gid := atoi(u), atoi(g)
	if uid == 0 || strconv.Itoa(uid) != u {
		t.Fatalf("USER %q: want a numeric non-root uid", img.user)
	}
	passwd, _ := os.ReadFile(filepath.Join(rootfs, "etc", "passwd"))
	if !strings.Contains(string(passwd), ":"+u+":"+g+":") {
		t.Errorf("/etc/passwd has no user %s:%s:\n%s", u, g, passwd)
	}
	for _, d := range []string{"var/lib/hush", "var/lib/hush/recordings", "var/lib/hush/audit"} {
		st, err := os.Stat(filepath.Join(rootfs, d))
		if err != nil {
			t.Fatal(err)
		}
		if s := st.Sys().(*syscall.Stat_t); int(s.Uid) != uid {
			t.Errorf("/%s belongs to uid %d, not the image's user %d", d, s.Uid, uid)
		}
	}

	// What an operator mounts: the certificate and the token hashes.
	certPEM, keyPEM, pool := selfSigned(t)
	const token = "image-test-token-0123456789abcdef"
	mounts := map[string][]byte{
		"etc/hush/tls/tls.crt":       certPEM,
		"etc/hush/tls/tls.key":       keyPEM,
		"etc/hush/auth/tokens.jsonl": []byte(`{"sha256":"` + auth.HashToken(token) + `","subject":"sbc","role":"platform"}` + "\n"),
	}
	for p, b := range mounts {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(rootfs, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(rootfs, p), b, 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(filepath.Join(rootfs, p), 0, gid); err != nil {
			t.Fatal(err)
		}
	}

	// hushd as the image runs it; loopback listeners on free ports stand in for the
	// published ones, and the media range is a lease of this test's own.
	portMin, portMax := relaytest.Ports(t, 100)
	inImage := func(argv []string, env ...string) *exec.Cmd {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(append([]string{}, img.env...), env...)
		cmd.Dir = img.workdir
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: rootfs,
			Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}}
		return cmd
	}
	hushd := inImage(img.entrypoint, "HUSH_GRPC_LISTEN=127.0.0.1:0", "HUSH_HTTP_LISTEN=127.0.0.1:0",
		"HUSH_GRPC_HEALTH_LISTEN=127.0.0.1:0", "HUSH_MEDIA_ADDRESS=127.0.0.1", "HUSH_MEDIA_ADVERTISE_ADDRESS=127.0.0.1",
		"HUSH_MEDIA_PORT_MIN="+strconv.Itoa(portMin), "HUSH_MEDIA_PORT_MAX="+strconv.Itoa(portMax))
	stderr, err := hushd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := hushd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	serving := make(chan map[string]any, 1)
	var logText strings.Builder
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logText.WriteString(sc.Text() + "\n")
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec["msg"] == "hushd serving" {
				serving <- rec
			}
		}
	}()
	go func() { <-logDone; exited <- hushd.Wait() }()
	t.Cleanup(func() { _ = hushd.Process.Kill() })
	var addrs map[string]any
	select {
	case addrs = <-serving:
	case err := <-exited:
		t.Fatalf("hushd exited at start: %v\n%s", err, logText.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("hushd did not serve\n%s", logText.String())
	}
	grpcAddr, _ := addrs["grpc"].(string)
	healthAddr, _ := addrs["health"].(string)

	// The image's own HEALTHCHECK command, pointed at the health listener's real port.
	probe := append([]string{}, img.health...)
	for i := range probe {
		if i > 0 && probe[i-1] == "--addr" {
			_, port, _ := net.SplitHostPort(healthAddr)
			_, want, _ := net.SplitHostPort(probe[i])
			if want != "50052" {
				t.Errorf("HEALTHCHECK probes port %s; the image's config serves health on 50052", want)
			}
			probe[i] = "127.0.0.1:" + port
		}
	}
	if out, err := inImage(probe).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "SERVING" {
		t.Errorf("HEALTHCHECK %v: %v %q", probe, err, out)
	}

	// A call over TLS with a token: the recording lands where the image's user may write.
	cc, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool})))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token), 5*time.Second)
	defer cancel()
	c := hushv1.NewSessionServiceClient(cc)
	s, err := c.CreateSession(ctx, &hushv1.CreateSessionRequest{CallId: "image-test",
		Customer: &hushv1.Leg{RemoteAddr: "127.0.0.1:9"}, Agent: &hushv1.Leg{}})
	if err != nil {
		t.Fatalf("CreateSession: %v\n%s", err, logText.String())
	}
	if _, err := c.DeleteSession(ctx, &hushv1.DeleteSessionRequest{SessionId: s.SessionId}); err != nil {
		t.Fatal(err)
	}
	// Recordings are filed by day: recordings/YYYY/MM/DD/<id>.wav.
	wavs, _ := filepath.Glob(filepath.Join(rootfs, "var/lib/hush/recordings/*/*/*", s.RecordingId+".wav"))
	if len(wavs) != 1 {
		t.Fatalf("recording %s.wav: found %v", s.RecordingId, wavs)
	}
	wav, _ := filepath.Rel(rootfs, wavs[0])
	for _, p := range []string{wav, "var/lib/hush/audit/hush-audit.jsonl"} {
		st, err := os.Stat(filepath.Join(rootfs, p))
		if err != nil {
			t.Errorf("/%s: %v", p, err)
			continue
		}
		if got := st.Sys().(*syscall.Stat_t).Uid; int(got) != uid {
			t.Errorf("/%s belongs to uid %d", p, got)
		}
	}

	// SIGTERM drains (nothing active) and exits 0.
	if err := hushd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("hushd exit after SIGTERM: %v\n%s", err, logText.String())
		}
	case <-time.After(20 * time.Second):
		t.Errorf("hushd did not exit after SIGTERM\n%s", logText.String())
	}
}

// selfSigned makes a server certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hushd"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), pool
}
