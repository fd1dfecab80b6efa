package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// errDoctor marks a doctor run that found something wrong (exit 1, already reported).
var errDoctor = errors.New("hushd has problems")

// doctorVerb is `hushctl doctor`: it checks a running deployment the way an operator
// would, one thing after another, and says what is wrong in plain words.
var doctorVerb = verb{
	name: "doctor",
	help: "check a running hushd: reachability, TLS expiry, the credential's role, clock skew, media engine, port range, recording dir, audit chain; exit 1 if anything is wrong",
	long: `Each check prints one line: ok, WARN or FAIL, and what it saw. The checks on
hushd's side (engine, port range, recording directory, audit chain) need a
credential of role admin; with another role they are skipped, with a warning.
Exit status: 0 when nothing is wrong, 1 when any check warns or fails, 2 on a
bad command line.`,
	flags: doctorFlags,
}

type doctor struct {
	now      func() time.Time
	certWarn time.Duration
	maxSkew  time.Duration
	portWarn float64
	minFree  uint64
	role     string
	network  bool // hushd was reached over a network address (not loopback)
}

// severity of a check's finding.
type severity int

const (
	sevOK severity = iota
	sevSkip
	sevWarn
	sevFail
)

var sevNames = [...]string{sevOK: "ok  ", sevSkip: "skip", sevWarn: "WARN", sevFail: "FAIL"}

type finding struct {
	sev       severity
	name, msg string
}

func doctorFlags(fs *flag.FlagSet) connAction {
	d := &doctor{now: time.Now}
	fs.DurationVar(&d.certWarn, "cert-warn", 14*24*time.Hour, "warn when hushd's certificate expires within this `duration`")
	fs.DurationVar(&d.maxSkew, "max-skew", 2*time.Second, "fail when this machine's clock and hushd's differ by more than this `duration`")
	fs.Float64Var(&d.portWarn, "port-warn", 0.85, "warn when this `fraction` of the media port range is in use")
	minFree := fs.String("min-free", "1GiB", "warn when the recording directory's file system has less `space` left (e.g. 500MiB, 10GiB)")
	fs.StringVar(&d.role, "role", "", "fail unless the credential has this `role` (e.g. platform for an SBC's token)")
	return func(ctx context.Context, a *app, cc grpc.ClientConnInterface, _ []string) error {
		n, err := parseBytes(*minFree)
		if err != nil {
			return usageErrorf("--min-free: %v", err)
		}
		d.minFree = n
		if a.now != nil {
			d.now = a.now
		}
		return d.run(ctx, a, cc)
	}
}

func (d *doctor) run(ctx context.Context, a *app, cc grpc.ClientConnInterface) error {
	fmt.Fprintf(a.stdout, "hushd at %s\n", a.addr)
	var found []finding
	report := func(f finding) {
		found = append(found, f)
		fmt.Fprintf(a.stdout, "  %s  %s: %s\n", sevNames[f.sev], f.name, f.msg)
	}
	reachable, tlsState := d.reach(ctx, a, cc, report)
	if reachable {
		d.tls(a, tlsState, report)
		if admin := d.identity(ctx, a, cc, report); admin {
			d.server(ctx, a, cc, report)
		} else {
			report(finding{sevSkip, "server checks", "engine, port range, recording directory and audit chain need an admin credential"})
		}
	}
	var problems []string
	for _, f := range found {
		if f.sev >= sevWarn {
			problems = append(problems, f.name)
		}
	}
	if len(problems) == 0 {
		fmt.Fprintln(a.stdout, "Nothing wrong found.")
		return nil
	}
	fmt.Fprintf(a.stdout, "%d problem(s): %s.\n", len(problems), strings.Join(problems, ", "))
	return errDoctor
}

// reach asks hushd's health service, keeping the TLS state of the connection.
func (d *doctor) reach(ctx context.Context, a *app, cc grpc.ClientConnInterface, report func(finding)) (bool, *tls.ConnectionState) {
	h := healthpb.NewHealthClient(cc)
	var p peer.Peer
	cctx, cancel := a.callCtx(ctx)
	resp, err := h.Check(cctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(false), grpc.Peer(&p))
	cancel()
	if err != nil {
		report(finding{sevFail, "reachable", d.unreachable(a, err)})
		return false, nil
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		report(finding{sevFail, "reachable", "hushd answers but is " + resp.GetStatus().String()})
		return false, nil
	}
	msg := "hushd answers health checks (SERVING)"
	sev := sevOK
	cctx, cancel = a.callCtx(ctx)
	sr, err := h.Check(cctx, &healthpb.HealthCheckRequest{Service: hushv1.SessionService_ServiceDesc.ServiceName})
	cancel()
	if err == nil && sr.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		sev, msg = sevWarn, "hushd answers, but it is draining: it takes no new calls"
	}
	report(finding{sev, "reachable", msg})
	var st *tls.ConnectionState
	if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok {
		st = &ti.State
	}
	d.network = true
	if tcp, ok := p.Addr.(*net.TCPAddr); !ok || tcp.IP.IsLoopback() {
		d.network = false // loopback, or a local (unix, in-process) connection
	}
	return true, st
}

// unreachable says why the health check failed, looking at the TLS handshake itself when
// that is what failed.
func (d *doctor) unreachable(a *app, err error) string {
	msg := "cannot reach hushd: " + status.Convert(err).Message()
	if !a.sec.useTLS() {
		return msg
	}
	host := a.sec.serverName
	if host == "" {
		host, _, _ = net.SplitHostPort(a.addr)
	}
	// Only to read the certificate: nothing is sent over this connection.
	conn, derr := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", a.addr,
		&tls.Config{InsecureSkipVerify: true, ServerName: host}) //nolint:gosec // read-only look at the served certificate
	if derr != nil {
		return msg
	}
	defer conn.Close()
	certs := conn.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return msg
	}
	leaf, now := certs[0], d.now()
	switch {
	case now.After(leaf.NotAfter):
		return fmt.Sprintf("hushd's certificate (%s) expired %s ago, on %s: clients refuse it; install a new one (tls.cert_file) and send hushd SIGHUP",
			leaf.Subject.CommonName, now.Sub(leaf.NotAfter).Round(time.Minute), leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return fmt.Sprintf("hushd's certificate is not valid before %s: check both clocks", leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if err := leaf.VerifyHostname(host); err != nil {
		return fmt.Sprintf("hushd's certificate does not name %s (%v): use --server-name, or a certificate with that name", host, err)
	}
	if roots, rerr := a.sec.roots(); rerr == nil {
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		if _, verr := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now}); verr != nil {
			return fmt.Sprintf("hushd's certificate is not signed by a CA this machine trusts (%v): pass --ca", verr)
		}
	}
	return msg
}

func (d *doctor) tls(a *app, st *tls.ConnectionState, report func(finding)) {
	if st == nil {
		if !d.network {
			report(finding{sevOK, "TLS", "off: plaintext on loopback"})
		} else {
			report(finding{sevWarn, "TLS", "off: the API is plaintext on a network address (grpc.insecure); set tls.cert_file"})
		}
		return
	}
	if len(st.PeerCertificates) == 0 {
		report(finding{sevWarn, "TLS", "hushd presented no certificate"})
		return
	}
	leaf := st.PeerCertificates[0]
	left := leaf.NotAfter.Sub(d.now())
	msg := fmt.Sprintf("certificate %s valid until %s (%s left)", leaf.Subject.CommonName,
		leaf.NotAfter.UTC().Format(time.RFC3339), days(left))
	switch {
	case left <= 0:
		report(finding{sevFail, "TLS", msg + ": expired"})
	case left < d.certWarn:
		report(finding{sevWarn, "TLS", msg + ": renew it soon (tls.cert_file, then SIGHUP)"})
	default:
		report(finding{sevOK, "TLS", msg})
	}
}

// identity checks the credential and the clocks; it reports whether the role is admin.
func (d *doctor) identity(ctx context.Context, a *app, cc grpc.ClientConnInterface, report func(finding)) bool {
	cctx, cancel := a.callCtx(ctx)
	defer cancel()
	t0 := d.now()
	who, err := hushv1.NewAdminServiceClient(cc).WhoAmI(cctx, &hushv1.WhoAmIRequest{})
	t1 := d.now()
	if err != nil {
		s := status.Convert(err)
		switch s.Code() {
		case codes.Unauthenticated:
			report(finding{sevFail, "credential", "hushd refuses it: " + s.Message() + " (set HUSHCTL_TOKEN, or --cert and --key)"})
		default:
			report(finding{sevFail, "credential", "cannot ask hushd who this is: " + s.Message()})
		}
		return false
	}
	role := who.GetRole()
	switch {
	case who.GetMethod() == "none" || who.GetMethod() == "" && role == "":
		report(finding{sevOK, "credential", "none needed: auth.mode is none (every caller may call every RPC)"})
		role = "admin"
	case d.role != "" && role != d.role:
		report(finding{sevFail, "credential", fmt.Sprintf("%s of %s has role %s, not %s", who.GetMethod(), who.GetSubject(), role, d.role)})
	default:
		msg := fmt.Sprintf("%s of %s, role %s", who.GetMethod(), who.GetSubject(), role)
		if who.GetAgentId() != "" {
			msg += ", agent " + who.GetAgentId()
		}
		report(finding{sevOK, "credential", msg})
	}
	// The server's clock read between t0 and t1: the skew is bounded by half the round trip.
	mid := t0.Add(t1.Sub(t0) / 2)
	skew := who.GetServerTime().AsTime().Sub(mid)
	slack := t1.Sub(t0) / 2
	if abs(skew)-slack > d.maxSkew {
		// Said no finer than the round trip lets us know it: the skew is within slack of
		// the estimate, so a unit of at least twice that rounds to what is true.
		unit := time.Millisecond
		for unit < 2*slack && unit < time.Minute {
			unit *= 10
		}
		report(finding{sevFail, "clock", fmt.Sprintf("hushd's clock is %s %s this machine's (more than %s): tokens, certificates and audit times go wrong; check NTP on both",
			abs(skew).Round(unit), map[bool]string{true: "ahead of", false: "behind"}[skew > 0], d.maxSkew)})
	} else {
		report(finding{sevOK, "clock", fmt.Sprintf("within %s of hushd's", (abs(skew) + slack).Round(time.Millisecond))})
	}
	if who.GetVersion() != "" {
		fmt.Fprintf(a.stdout, "        hushd version %s\n", who.GetVersion())
	}
	return role == "admin"
}

func (d *doctor) server(ctx context.Context, a *app, cc grpc.ClientConnInterface, report func(finding)) {
	// Diagnose reads the whole audit file: give it longer than a plain call.
	cctx, cancel := context.WithTimeout(ctx, max(a.timeout, time.Minute))
	defer cancel()
	dg, err := hushv1.NewAdminServiceClient(cc).Diagnose(cctx, &hushv1.DiagnoseRequest{})
	if err != nil {
		report(finding{sevFail, "server checks", "Diagnose failed: " + status.Convert(err).Message()})
		return
	}
	switch eng, conf := dg.GetEngine(), dg.GetEngineConfigured(); {
	case eng == "portable" && conf == "portable":
		report(finding{sevWarn, "media engine", "portable (media.engine portable): a goroutine per socket, the slowest under load; use auto"})
	case eng == "portable":
		report(finding{sevWarn, "media engine", "portable: the kernel (or a seccomp profile) allows neither io_uring nor epoll here; expect more CPU per call"})
	default:
		report(finding{sevOK, "media engine", fmt.Sprintf("%s (media.engine %s)", eng, conf)})
	}

	pairs, used := dg.GetPortPairs(), dg.GetPortPairsInUse()
	frac := 0.0
	if pairs > 0 {
		frac = float64(used) / float64(pairs)
	}
	msg := fmt.Sprintf("%d of %d port pairs in use (%.0f%%), %d sessions of at most %d", used, pairs, 100*frac,
		dg.GetSessionsActive(), dg.GetMaxSessions())
	switch {
	case used >= pairs:
		report(finding{sevFail, "port range", msg + ": full, new calls are refused; widen media.port_min..port_max"})
	case frac >= d.portWarn:
		report(finding{sevWarn, "port range", msg + ": nearly full; widen media.port_min..port_max or add instances"})
	default:
		report(finding{sevOK, "port range", msg})
	}

	rc := dg.GetRecording()
	switch {
	case !rc.GetEnabled():
		report(finding{sevOK, "recording dir", "recording is off (recording.enabled false)"})
	case !rc.GetWritable():
		report(finding{sevFail, "recording dir", fmt.Sprintf("%s is not writable: %s: new calls go unrecorded", rc.GetDir(), rc.GetError())})
	case rc.GetFreeBytes() < d.minFree:
		report(finding{sevWarn, "recording dir", fmt.Sprintf("%s: only %s left of %s (less than %s): recordings fail when it is full",
			rc.GetDir(), size(rc.GetFreeBytes()), size(rc.GetTotalBytes()), size(d.minFree))})
	default:
		report(finding{sevOK, "recording dir", fmt.Sprintf("%s: writable, %s free of %s", rc.GetDir(), size(rc.GetFreeBytes()), size(rc.GetTotalBytes()))})
	}

	ac := dg.GetAudit()
	switch {
	case !ac.GetEnabled():
		report(finding{sevWarn, "audit log", "off (audit.file is empty): nothing records who paused, captured or listened"})
	case !ac.GetVerified():
		report(finding{sevFail, "audit log", fmt.Sprintf("%s does not verify: %s (%d good records before it); keep the file as evidence and investigate",
			ac.GetFile(), ac.GetError(), ac.GetRecords())})
	default:
		report(finding{sevOK, "audit log", fmt.Sprintf("%s: chain verifies, %d records, head %d", ac.GetFile(), ac.GetRecords(), ac.GetHeadSeq())})
	}
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// days writes a duration as days (or hours under two days).
func days(d time.Duration) string {
	if d < 48*time.Hour && d > -48*time.Hour {
		return d.Round(time.Minute).String()
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

var byteUnits = []struct {
	name string
	n    uint64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}}

// size writes a byte count in binary units.
func size(n uint64) string {
	for _, u := range byteUnits {
		if n >= u.n {
			return fmt.Sprintf("%.1f %s", float64(n)/float64(u.n), u.name)
		}
	}
	return fmt.Sprintf("%d B", n)
}

// parseBytes reads "500MiB", "10GiB", "1TiB" or a plain number of bytes.
func parseBytes(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	mult := uint64(1)
	for _, u := range append(byteUnits, struct {
		name string
		n    uint64
	}{"B", 1}) {
		if strings.HasSuffix(s, u.name) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.name)), u.n
			break
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > (1<<63)/mult {
		return 0, fmt.Errorf("want a size such as 500MiB or 10GiB, got %q", s)
	}
	return n * mult, nil
}

// systemRoots is the pool --ca defaults to.
func systemRoots() (*x509.CertPool, error) { return x509.SystemCertPool() }

// roots is the CA pool hushctl verifies hushd's certificate with.
func (s *security) roots() (*x509.CertPool, error) {
	if s.ca == "" {
		return systemRoots()
	}
	pem, err := os.ReadFile(s.ca)
	if err != nil {
		return nil, err
	}
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(pem)
	return p, nil
}

// useTLS reports whether hushctl connects with TLS.
func (s *security) useTLS() bool { return s.tls || s.ca != "" || s.cert != "" }
