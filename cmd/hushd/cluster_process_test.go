package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/hushmedia/hush/internal/cluster/redistest"
	"github.com/hushmedia/hush/media/dtmf/dtmftest"
	"github.com/hushmedia/hush/media/record"
	"github.com/hushmedia/hush/media/rtp"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// The fleet on loopback: three hushd processes, each with its own address (gRPC, HTTP,
// peer listener and media all on it), one Redis.
const (
	takeovers      = 20 // SIGKILLs of the owner, each followed by a replacement
	restartsFirst  = 10 // the first ones restart under the same name (no lease to wait for)
	processLease   = time.Second
	keyEvery       = 400 * time.Millisecond // a key pressed this often, for 100 ms
	packetsBetween = 40                     // packets through each owner before it is killed
)

// fleetProc is one hushd process of the fleet.
type fleetProc struct {
	*child
	name, ip string
}

type fleetSpec struct {
	bin, redis, prefix string
	lo, hi             int
	dir                string
}

func (f *fleetSpec) start(t *testing.T, name, ip string) *fleetProc {
	t.Helper()
	recDir := filepath.Join(f.dir, ip, "recordings")
	c := startChild(t, f.bin, "",
		"--grpc-listen", ip+":0", "--http-listen", ip+":0", "--cluster-listen", ip+":0",
		"--media-address", ip, "--media-port-min", itoa(f.lo), "--media-port-max", itoa(f.hi),
		"--media-rate-limit-pps", "0", "--session-drain-timeout", "0s",
		"--recording-enabled=true", "--recording-dir", recDir, "--recording-key-file", f.keyFile(ip),
		"--audit-file", filepath.Join(f.dir, ip, "audit.jsonl"),
		"--cluster-redis-addr", f.redis, "--cluster-key-prefix", f.prefix, "--cluster-node-id", name,
		"--cluster-lease", processLease.String(), "--log-level", "debug")
	return &fleetProc{child: c, name: name, ip: ip}
}

// keyFile is the recording key file of the nodes on ip: a replacement reads (and repairs)
// what the node it replaces sealed.
func (f *fleetSpec) keyFile(ip string) string { return filepath.Join(f.dir, ip, "recording.kek") }

func (p *fleetProc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
}

func (p *fleetProc) sessions(t *testing.T) hushv1.SessionServiceClient {
	t.Helper()
	cc, err := grpc.NewClient(p.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return hushv1.NewSessionServiceClient(cc)
}

// rxLog is an agent phone: every datagram it gets, with its arrival time.
type rxLog struct {
	conn   *net.UDPConn
	mu     sync.Mutex
	got    []rxPacket
	notify chan struct{}
}

func newRxLog(t *testing.T) *rxLog {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	r := &rxLog{conn: c, notify: make(chan struct{}, 1)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, _, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			r.mu.Lock()
			r.got = append(r.got, rxPacket{pkt: slices.Clone(buf[:n]), at: time.Now()})
			r.mu.Unlock()
			select {
			case r.notify <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return r
}

func (r *rxLog) addr() string { return r.conn.LocalAddr().String() }

// since counts the packets that arrived after at.
func (r *rxLog) since(at time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for i := len(r.got) - 1; i >= 0 && r.got[i].at.After(at); i-- {
		n++
	}
	return n
}

// waitSince waits until n packets arrived after at.
func (r *rxLog) waitSince(t *testing.T, at time.Time, n int, within time.Duration) {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for r.since(at) < n {
		select {
		case <-r.notify:
		case <-deadline.C:
			t.Fatalf("%d packets since %v, want %d within %v", r.since(at), at.Format(time.StampMilli), n, within)
		}
	}
}

// gapAround is the media gap a kill made: the longest silence between two arrivals from
// a second before the kill until the first packet after the replacement served (the
// killed process may still forward a packet or two after the signal is sent).
func (r *rxLog) gapAround(kill, served time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	gap := time.Duration(-1)
	var prev time.Time
	for _, p := range r.got {
		if p.at.Before(kill.Add(-time.Second)) {
			continue
		}
		if !prev.IsZero() {
			gap = max(gap, p.at.Sub(prev))
		}
		if p.at.After(served) {
			return gap
		}
		prev = p.at
	}
	return -1
}

// keyedAudio is a caller keying a digit every keyEvery, 100 ms each at -10 dBm0, over
// silence, for seconds of audio.
func keyedAudio(seconds int) []int16 {
	sig := make([]float64, seconds*audioRate)
	r := rand.New(rand.NewPCG(7, 8))
	step := int(keyEvery.Milliseconds()) * audioPerMs
	for k, at := 0, 2000; at+800 < len(sig); k, at = k+1, at+step {
		dtmftest.Burst{Key: "0123456789"[k%10], At: at, Dur: 100 * audioPerMs, DBm0: -10}.AddTo(sig, r)
	}
	return dtmftest.Quantize(sig)
}

// TestFleetSurvivesCrashes is the fleet on loopback: redis-server and three hushd processes
// (127.0.0.2, .3, .4). Two calls are created through A (one masked toward the agent by its
// policy, one unmasked by policy but with a secure capture begun and stopped through B),
// controlled through B and watched from C, while the customers key a digit every 400 ms.
// A is SIGKILLed 20 times mid-call; each time a replacement starts on A's address: ten
// times A itself restarting (it takes its calls back at once), then ten times alternately
// a standby and A (they wait for the dead one's lease). The test measures the media gap of
// each call at each takeover (p50 and max; target under 2 s), judges everything the agents
// heard with multimon-ng (no digit may get through, the customers' own audio has dozens),
// follows the watch from C across every takeover, and checks the recording segments: one
// per owner, linked, the repaired ones and the last playable.
func TestFleetSurvivesCrashes(t *testing.T) {
	needDebianTool(t, "multimon-ng", "multimon-ng")
	needDebianTool(t, "soxi", "sox")
	bin := buildHushd(t)
	rs := redistest.Start(t)
	lo, hi := mediaRange(t, 40)
	f := &fleetSpec{bin: bin, redis: rs.Addr, prefix: "fleet" + itoa(rand.IntN(1<<30)), lo: lo, hi: hi, dir: t.TempDir()}
	a := f.start(t, "a", "127.0.0.2")
	b := f.start(t, "b", "127.0.0.3")
	c := f.start(t, "c", "127.0.0.4")
	viaA, viaB, viaC := a.sessions(t), b.sessions(t), c.sessions(t)

	ctx := func() context.Context {
		cx, cancel := context.WithTimeout(context.Background(), 3*wait)
		t.Cleanup(cancel)
		return cx
	}
	type call struct {
		name  string
		s     *hushv1.Session
		cust  *net.UDPConn
		agent *rxLog
		ssrc  uint32
	}
	var calls []*call
	for i, pol := range []*hushv1.Policy{nil, {CustomerToAgent: &hushv1.MaskingPolicy{Mode: hushv1.MaskMode_MASK_MODE_OFF}}} {
		cust, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cust.Close() })
		agent := newRxLog(t)
		s, err := viaA.CreateSession(ctx(), &hushv1.CreateSessionRequest{CallId: fmt.Sprintf("fleet-call-%d", i), AgentId: "agent-7",
			Customer: &hushv1.Leg{RemoteAddr: cust.LocalAddr().String()}, Agent: &hushv1.Leg{RemoteAddr: agent.addr()}, Policy: pol})
		if err != nil {
			t.Fatal(err)
		}
		calls = append(calls, &call{name: []string{"policy-masked", "capture-begun"}[i], s: s, cust: cust, agent: agent, ssrc: uint32(0x1000 + i)})
	}
	// The second call's agent ear is masked by a capture begun (and stopped) through B.
	if _, err := viaB.StartSecureCapture(ctx(), &hushv1.StartSecureCaptureRequest{SessionId: calls[1].s.SessionId}); err != nil {
		t.Fatal(err)
	}
	if _, err := viaB.StopSecureCapture(ctx(), &hushv1.StopSecureCaptureRequest{SessionId: calls[1].s.SessionId}); err != nil {
		t.Fatal(err)
	}
	// C watches both calls for the whole test.
	type watchLog struct {
		mu     sync.Mutex
		events []*hushv1.SessionEvent
		end    error
	}
	watches := make([]*watchLog, len(calls))
	for i, cl := range calls {
		w := &watchLog{}
		watches[i] = w
		wctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		st, err := viaC.WatchSession(wctx, &hushv1.WatchSessionRequest{SessionId: cl.s.SessionId})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				ev, err := st.Recv()
				w.mu.Lock()
				if err != nil {
					w.end = err
					w.mu.Unlock()
					return
				}
				w.events = append(w.events, ev)
				w.mu.Unlock()
			}
		}()
	}

	// The customers speak (keys over silence) at real pace, both calls, from now on.
	const seconds = 150
	pcm := keyedAudio(seconds)
	sendCtx, stopSending := context.WithCancel(context.Background())
	sent := make(chan int, 1)
	go func() {
		clk := newPhoneClock(audioPtime)
		pay := make([]byte, audioFrame)
		k := 0
		defer func() { sent <- k }()
		for ; (k+1)*audioFrame <= len(pcm); k++ {
			if !clk.wait(sendCtx.Done(), k+1) {
				return
			}
			g711Encode(audioPCMU, pay, pcm[k*audioFrame:(k+1)*audioFrame])
			for _, cl := range calls {
				h := rtp.Header{Version: 2, PayloadType: audioPCMU, SequenceNumber: uint16(k), Timestamp: uint32(k * audioFrame), SSRC: cl.ssrc}
				b := make([]byte, h.MarshalSize()+audioFrame)
				n, _ := h.MarshalTo(b)
				copy(b[n:], pay)
				_, _ = cl.cust.WriteToUDPAddrPort(b, netip.MustParseAddrPort(cl.s.Customer.LocalAddr))
			}
		}
	}()
	defer stopSending()

	owner := a
	type takeover struct {
		replacement string
		gaps        []time.Duration
		start       time.Duration // the replacement's start, to serving
	}
	var tos []takeover
	for i := range takeovers {
		for _, cl := range calls {
			cl.agent.waitSince(t, time.Now(), packetsBetween, 3*wait)
		}
		name := "a"
		if i >= restartsFirst && (i-restartsFirst)%2 == 0 {
			name = "a-standby"
		}
		kill := time.Now()
		owner.kill(t)
		owner = f.start(t, name, "127.0.0.2")
		served := time.Now()
		to := takeover{replacement: name, start: served.Sub(kill)}
		for _, cl := range calls {
			cl.agent.waitSince(t, served, 2, 3*wait)
			to.gaps = append(to.gaps, cl.agent.gapAround(kill, served))
		}
		tos = append(tos, to)
		// Control through B after each takeover: B finds the call on its new owner.
		got, err := viaB.GetSession(ctx(), &hushv1.GetSessionRequest{SessionId: calls[0].s.SessionId})
		if err != nil {
			t.Fatalf("takeover %d: get through b: %v", i+1, err)
		}
		if got.Node != name || len(got.Moves) != i+1 || got.Customer.LocalAddr != calls[0].s.Customer.LocalAddr {
			t.Fatalf("takeover %d: through b: node %q, %d moves, local %s", i+1, got.Node, len(got.Moves), got.Customer.LocalAddr)
		}
	}
	for _, cl := range calls {
		cl.agent.waitSince(t, time.Now(), packetsBetween, 3*wait)
	}
	stopSending()
	packets := <-sent

	// Every takeover's gap, and the figures.
	var restart, standby, all []time.Duration
	for i, to := range tos {
		for j, g := range to.gaps {
			if g < 0 || g >= 2*time.Second {
				t.Errorf("takeover %d (%s), %s call: media gap %v, want under 2 s", i+1, to.replacement, calls[j].name, g)
			}
			all = append(all, g)
			if i < restartsFirst {
				restart = append(restart, g)
			} else {
				standby = append(standby, g)
			}
		}
	}
	t.Logf("media gap over %d takeovers (%d calls each): p50 %v max %v; restart under the same name p50 %v max %v; standby after the lease (%v) p50 %v max %v",
		len(tos), len(calls), durQuantile(all, 0.5), durQuantile(all, 1), durQuantile(restart, 0.5), durQuantile(restart, 1),
		processLease, durQuantile(standby, 0.5), durQuantile(standby, 1))
	for i, to := range tos {
		t.Logf("takeover %2d by %-9s: replacement serving after %v, gaps %v", i+1, to.replacement, to.start.Round(time.Millisecond), to.gaps)
	}

	// No digit reached an agent, before, during or after any takeover.
	n := packets * audioFrame
	dir := t.TempDir()
	keyed := multimonDigits(t, dir, "customer", pcm[:n])
	if len(keyed) < 50 {
		t.Fatalf("multimon-ng finds only %d keys in what the customers keyed: the judge is blind", len(keyed))
	}
	t.Logf("multimon-ng finds %d keys in what each customer keyed over %v", len(keyed), time.Duration(packets)*audioPtime)
	for _, cl := range calls {
		cl.agent.mu.Lock()
		heard := decodeByTimestamp(datagrams(cl.agent.got), 0, n)
		cl.agent.mu.Unlock()
		if keys := multimonDigits(t, dir, "agent-"+cl.name, heard); keys != "" {
			t.Errorf("%s call: the agent heard the digits %d keys through %d takeovers", cl.name, len(keys), len(tos))
		}
	}

	// C's watches followed each call across every takeover.
	for i, w := range watches {
		w.mu.Lock()
		moved := 0
		for _, ev := range w.events {
			if m := ev.GetMoved(); m != nil {
				moved++
				if m.ToNode == "" || m.RecordingId == "" || m.PreviousRecordingId == "" {
					t.Errorf("%s call: moved event %v", calls[i].name, m)
				}
			}
		}
		end := w.end
		w.mu.Unlock()
		if moved != len(tos) || end != nil {
			t.Errorf("%s call: the watch from c saw %d moves of %d (stream end: %v)", calls[i].name, moved, len(tos), end)
		}
	}

	// Hang up through C; the recordings: one segment per owner, each linked to the one
	// before, the killed ones repaired, the last complete, every one a WAV sox plays.
	for _, cl := range calls {
		if _, err := viaC.DeleteSession(ctx(), &hushv1.DeleteSessionRequest{SessionId: cl.s.SessionId}); err != nil {
			t.Fatal(err)
		}
	}
	recRoot := filepath.Join(f.dir, "127.0.0.2", "recordings")
	for _, cl := range calls {
		var customer []int16
		for seg := 1; seg <= len(tos)+1; seg++ {
			id := cl.s.SessionId
			if seg > 1 {
				id += "-" + itoa(seg)
			}
			var sc record.Sidecar
			pollUntil(t, "the sidecar of segment "+itoa(seg), func() bool {
				paths, _ := filepath.Glob(filepath.Join(recRoot, "*", "*", "*", id+".json"))
				if len(paths) != 1 {
					return false
				}
				b, err := os.ReadFile(paths[0])
				if err != nil {
					return false
				}
				plain, _ := unsealed(t, paths[0], b, f.keyFile("127.0.0.2"))
				sc, err = record.ParseSidecar(plain)
				return err == nil && (seg <= len(tos) || sc.Status == record.StatusComplete)
			})
			want := record.StatusRepaired
			if seg == len(tos)+1 {
				want = record.StatusComplete
			}
			prev := ""
			if seg == 2 {
				prev = cl.s.SessionId
			} else if seg > 2 {
				prev = cl.s.SessionId + "-" + itoa(seg-1)
			}
			if sc.Status != want || max(sc.Segment, 1) != seg || sc.PreviousRecordingID != prev {
				t.Errorf("%s call, segment %d: status %s segment %d previous %q; want %s, %d, %q",
					cl.name, seg, sc.Status, sc.Segment, sc.PreviousRecordingID, want, seg, prev)
			}
			wav, _ := filepath.Glob(filepath.Join(recRoot, "*", "*", "*", id+".wav"))
			if len(wav) != 1 {
				t.Fatalf("%s call, segment %d: wav %v", cl.name, seg, wav)
			}
			b, err := os.ReadFile(wav[0])
			if err != nil {
				t.Fatal(err)
			}
			if !sc.Encrypted {
				t.Errorf("%s call, segment %d: not sealed at rest", cl.name, seg)
			}
			_, plainWAV := unsealed(t, wav[0], b, f.keyFile("127.0.0.2"))
			checkStereo(t, plainWAV)
			chans, err := dtmftest.ReadWAV(plainWAV)
			if err != nil {
				t.Fatalf("%s segment %d: %v", cl.name, seg, err)
			}
			customer = append(customer, chans[0]...)
		}
		if keys := multimonDigits(t, dir, "recording-"+cl.name, customer); keys != "" {
			t.Errorf("%s call: the recording holds %d keys", cl.name, len(keys))
		}
	}
	if t.Failed() {
		t.Logf("last owner's log:\n%s", tail(owner.logText(), 60))
	}
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	return strings.Join(l[max(0, len(l)-lines):], "\n")
}
