package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/pion/rtp"

	"github.com/hushmedia/hush/internal/sdp"
	"github.com/hushmedia/hush/media/dtmf/dtmftest"
	"github.com/hushmedia/hush/media/g711"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// TestKamailioSippThroughHush is the SIP integration end to end, all real processes on
// loopback: hushd (in process) with its ng listener, Kamailio with deploy/kamailio's
// configuration and its stock rtpengine module pointed at hushd, and sip-tester (sipp) as
// the customer's phone (caller) and the agent's (callee). The caller plays a capture of
// speech with in-band keys, puts the call on hold and back by re-INVITE, plays a
// capture with RFC 4733 keys and hangs up. Kamailio asks hush to mask the caller's keys
// (block-DTMF, DTMF-security=tone) and to record the call.
func TestKamailioSippThroughHush(t *testing.T) {
	kamailio := dtmftest.Tool(t, "kamailio", "kamailio")
	sipp := dtmftest.Tool(t, "sipp", "sip-tester")
	multimon := dtmftest.Tool(t, "multimon-ng", "multimon-ng")
	modules := kamailioModules(t)
	dir := t.TempDir()

	// The caller's audio: sip-tester's speech with four keys keyed in band; then speech
	// with two keys as RFC 4733 events (sip-tester's captures of them).
	speech := sipTesterSpeechPCM(t)
	inband := withKeys(speech[:4*8000], "4713")
	if got := dtmftest.Judge(t, dir, "source", inband); got != "4713" {
		t.Fatalf("the source audio holds keys %q for multimon-ng, want 4713: the test would prove nothing", got)
	}
	first, second := newRTPOut(1), newRTPOut(2)
	inbandDur := first.audio(t, inband, 0)
	at := second.audio(t, speech[4*8000:5*8000], 0)
	at = second.event(t, "5", at)
	at = second.audio(t, speech[5*8000:5*8000+4000], at)
	at = second.event(t, "9", at)
	eventsDur := second.audio(t, speech[5*8000+4000:6*8000], at)
	inbandPcap, eventsPcap := filepath.Join(dir, "inband.pcap"), filepath.Join(dir, "events.pcap")
	first.writePcap(t, inbandPcap)
	second.writePcap(t, eventsPcap)

	recDir, keyFile := filepath.Join(dir, "recordings"), filepath.Join(dir, "recording.kek")
	lo, hi := mediaRange(t, 40)
	d := startDaemon(t, "--ng-enabled", "--ng-listen", "127.0.0.1:0", "--recording-enabled=true", "--recording-dir", recDir,
		"--recording-key-file", keyFile,
		"--media-port-min", strconv.Itoa(lo), "--media-port-max", strconv.Itoa(hi))

	// The agent's phone: sipp answers the call, and its SDP points here, so the test
	// sees every packet the agent gets; from here the agent speaks too (sip-tester's
	// speech capture, as captured, to where the first packet came from: symmetric RTP).
	agentSpeech := pcapRTP(t, sipTesterSpeech)
	phone := newMediaSink(t, agentSpeech[:min(len(agentSpeech), 130)]) // 3.9 s: over before the BYE
	// Ports of a lease (outside the kernel's ephemeral range, so no socket bound to port 0
	// takes one between here and the process binding it): sipp's media port is even and
	// sipp binds the three above it too (RTCP, video RTP and RTCP).
	ports, _ := mediaRange(t, 7)
	mediaPort, sipPort, calleePort, callerPort := ports, ports+4, ports+5, ports+6

	kam := startProcess(t, dir, "kamailio", kamailio, "-f", "../../deploy/kamailio/kamailio.cfg", "-DD", "-E",
		"-A", `HUSH_NG="udp:`+d.ready.NG+`"`, "-A", "SIP_LISTEN=udp:127.0.0.1:"+strconv.Itoa(sipPort),
		"-A", `MPATH="`+modules+`"`, "-w", dir, "-Y", dir, "-P", filepath.Join(dir, "kamailio.pid"), "-m", "32", "-M", "4")
	waitSIP(t, sipPort, kam)

	vals := map[string]string{
		"Callee": "127.0.0.1:" + strconv.Itoa(calleePort), "PhoneIP": "127.0.0.1", "PhonePort": strconv.Itoa(int(phone.addr.Port())),
		"Phone": phone.addr.String(), "Inband": inbandPcap, "Events": eventsPcap,
		"InbandMs": strconv.Itoa(int((inbandDur + 400*time.Millisecond).Milliseconds())),
		"EventsMs": strconv.Itoa(int((eventsDur + 400*time.Millisecond).Milliseconds())),
	}
	callerXML, calleeXML := scenario(t, dir, "caller.xml", vals), scenario(t, dir, "callee.xml", vals)
	calleeTrace := filepath.Join(dir, "callee-messages.log")
	callee := startProcess(t, dir, "sipp-callee", sipp, "-sf", calleeXML, "-i", "127.0.0.1", "-p", strconv.Itoa(calleePort),
		"-m", "1", "-nostdin", "-timeout", "60s", "-timeout_error", "-trace_msg", "-message_file", calleeTrace,
		"-trace_err", "-error_file", filepath.Join(dir, "callee-errors.log"))
	caller := startProcess(t, dir, "sipp-caller", sipp, "-sf", callerXML, "127.0.0.1:"+strconv.Itoa(calleePort),
		"-rsa", "127.0.0.1:"+strconv.Itoa(sipPort), "-i", "127.0.0.1", "-p", strconv.Itoa(callerPort),
		"-mp", strconv.Itoa(mediaPort), "-m", "1", "-nostdin", "-timeout", "60s", "-timeout_error",
		"-trace_err", "-error_file", filepath.Join(dir, "caller-errors.log"))

	// INVITE (with early media), 200, ACK, two re-INVITEs and BYE all succeed: sipp
	// exits 0 only when its one call did.
	if err := caller.wait(90 * time.Second); err != nil {
		t.Fatalf("caller: %v\n%s\n%s", err, caller.log(), kam.log())
	}
	if err := callee.wait(10 * time.Second); err != nil {
		t.Fatalf("callee: %v\n%s", err, callee.log())
	}
	pkts, spoken := phone.stop()

	// The SDP the agent's phone saw points at hush, and every packet it got came from
	// there.
	trace, _ := os.ReadFile(calleeTrace)
	callID, hushSide := inviteSeen(t, string(trace))
	if !hushSide.Addr().IsLoopback() || int(hushSide.Port()) < lo || int(hushSide.Port()) > hi {
		t.Fatalf("the callee's SDP points at %v, not at hush's media ports %d-%d", hushSide, lo, hi)
	}
	bySSRC := map[uint32][]*rtp.Packet{}
	for _, p := range pkts {
		if p.from != hushSide {
			t.Fatalf("the callee got a packet from %v, not from hush at %v", p.from, hushSide)
		}
		var r rtp.Packet
		if err := r.Unmarshal(p.b); err != nil {
			t.Fatalf("not RTP: %v", err)
		}
		// RFC 4733 events never reach a masked listener.
		if r.PayloadType == 101 {
			t.Fatalf("an RFC 4733 event (seq %d) reached the agent", r.SequenceNumber)
		}
		bySSRC[r.SSRC] = append(bySSRC[r.SSRC], &r)
	}
	// Media flowed before the hold and after it: both captures arrived.
	if n := len(bySSRC[first.ssrc]); n < len(first.pkts)*9/10 {
		t.Fatalf("%d of %d packets of the first capture reached the agent", n, len(first.pkts))
	}
	if n := len(bySSRC[second.ssrc]); n < 50 {
		t.Fatalf("after the hold and back only %d packets reached the agent", n)
	}
	// The agent heard no key.
	heard := slices.Concat(pcmOf(bySSRC[first.ssrc]), pcmOf(bySSRC[second.ssrc]))
	if got := dtmftest.Judge(t, dir, "agent-heard", heard); got != "" {
		t.Fatalf("multimon-ng hears %d keys in what the agent got", len(got))
	}
	if v := d.metric(`hush_masked_seconds_total{direction="customer_to_agent"}`); v <= 0 {
		t.Fatalf("nothing was masked (%v)", v)
	}
	// The agent's speech reached the caller's side through hush.
	if v := d.metric(`hush_rtp_packets_total{direction="agent_to_customer"}`); spoken < 100 || v < float64(spoken)*9/10 {
		t.Fatalf("hush forwarded %v of the agent's %d packets", v, spoken)
	}

	// Kamailio's rtpengine module drove hush: three offers (INVITE, hold, back), four
	// answers (183, 200, two 200s), and delete on BYE ended the session.
	for sample, want := range map[string]float64{
		`hush_ng_requests_total{command="offer",result="ok"}`:  3,
		`hush_ng_requests_total{command="answer",result="ok"}`: 4,
		`hush_ng_requests_total{command="delete",result="ok"}`: 1,
		`hush_sessions_ended_total{reason="deleted"}`:          1,
		`hush_sessions_created_total`:                          1,
	} {
		if got := d.metric(sample); got != want {
			t.Errorf("%s = %v, want %v", sample, got, want)
		}
	}
	if list, err := d.session.ListSessions(d.ctx(), &hushv1.ListSessionsRequest{CallId: callID}); err != nil || len(list.GetSessions()) != 0 {
		t.Fatalf("after BYE: %d sessions (%v)", len(list.GetSessions()), err)
	}

	// The recording exists, names the call, holds the speech and no key.
	checkRecording(t, multimon, recDir, keyFile, callID)
}

// checkRecording finds the one recording in dir and checks its sidecar and audio.
func checkRecording(t *testing.T, multimon, dir, keyFile, callID string) {
	t.Helper()
	side, err := filepath.Glob(filepath.Join(dir, "*", "*", "*", "*.json")) // filed by day
	if err != nil || len(side) != 1 {
		t.Fatalf("recordings: %v %v", side, err)
	}
	raw, err := os.ReadFile(side[0])
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = unsealed(t, side[0], raw, keyFile)
	var sc struct {
		CallID string            `json:"call_id"`
		WAV    string            `json:"wav"`
		Masks  []json.RawMessage `json:"masks"`
	}
	if err := json.Unmarshal(raw, &sc); err != nil {
		t.Fatal(err)
	}
	if sc.CallID != callID || len(sc.Masks) == 0 {
		t.Fatalf("sidecar: call id %q (want %q), %d mask spans\n%s", sc.CallID, callID, len(sc.Masks), raw)
	}
	wav := strings.TrimSuffix(side[0], ".json") + ".wav"
	sealed, err := os.ReadFile(wav)
	if err != nil {
		t.Fatal(err)
	}
	_, wav = unsealed(t, wav, sealed, keyFile)
	ch, err := dtmftest.ReadWAV(wav)
	if err != nil || len(ch) != 2 {
		t.Fatalf("recording %s: %v", wav, err)
	}
	customer := ch[0]
	var energy float64
	for _, s := range customer {
		energy += float64(s) * float64(s)
	}
	if rms := math.Sqrt(energy / float64(max(1, len(customer)))); rms < 100 || len(customer) < 4*8000 {
		t.Fatalf("the recording's customer channel is %d samples at RMS %.0f: the call was not recorded", len(customer), rms)
	}
	mono := filepath.Join(t.TempDir(), "customer.wav")
	if err := dtmftest.WriteWAV(mono, customer); err != nil {
		t.Fatal(err)
	}
	if got := dtmftest.JudgeFile(t, multimon, mono); got != "" {
		t.Fatalf("multimon-ng hears %d keys in the recording", len(got))
	}
}

// pcmOf decodes PCMA packets in sequence order.
func pcmOf(pkts []*rtp.Packet) []int16 {
	slices.SortFunc(pkts, func(a, b *rtp.Packet) int { return int(int16(a.SequenceNumber - b.SequenceNumber)) })
	var pcm []int16
	for _, p := range pkts {
		if p.PayloadType != 8 {
			continue
		}
		for _, c := range p.Payload {
			pcm = append(pcm, g711.AlawToLinear(c))
		}
	}
	return pcm
}

var (
	callIDLine = regexp.MustCompile(`(?m)^Call-ID:\s*(\S+)`)
	cLine      = regexp.MustCompile(`(?m)^c=IN IP4 (\S+)`)
	mLine      = regexp.MustCompile(`(?m)^m=audio (\d+) `)
)

// inviteSeen reads the callee's message trace: the Call-ID and where the first INVITE's
// SDP says to send media.
func inviteSeen(t *testing.T, trace string) (string, netip.AddrPort) {
	t.Helper()
	i := strings.Index(trace, "INVITE sip:")
	if i < 0 {
		t.Fatalf("the callee saw no INVITE:\n%s", trace)
	}
	msg := trace[i:]
	if j := strings.Index(msg, "\n----"); j > 0 {
		msg = msg[:j]
	}
	msg = strings.ReplaceAll(msg, "\r", "")
	id, c, m := callIDLine.FindStringSubmatch(msg), cLine.FindStringSubmatch(msg), mLine.FindStringSubmatch(msg)
	if id == nil || c == nil || m == nil {
		t.Fatalf("INVITE without Call-ID or SDP:\n%s", msg)
	}
	body := msg[strings.Index(msg, "v=0"):]
	if _, err := sdp.Parse([]byte(body)); err != nil {
		t.Fatalf("the SDP the callee saw does not parse: %v\n%s", err, body)
	}
	return id[1], netip.MustParseAddrPort(c[1] + ":" + m[1])
}

// kamailioModules finds Kamailio's module directory (it depends on the architecture).
func kamailioModules(t *testing.T) string {
	t.Helper()
	m, _ := filepath.Glob("/usr/lib/*/kamailio/modules/rtpengine.so")
	if len(m) == 0 {
		m, _ = filepath.Glob("/usr/lib/kamailio/modules/rtpengine.so")
	}
	if len(m) == 0 {
		msg := "kamailio's rtpengine module missing: install Debian package kamailio"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return filepath.Dir(m[0]) + "/"
}

// scenario fills a sipp scenario template from testdata/kamailio.
func scenario(t *testing.T, dir, name string, vals map[string]string) string {
	t.Helper()
	tmpl, err := template.ParseFiles(filepath.Join("testdata", "kamailio", name))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := tmpl.Option("missingkey=error").Execute(&b, vals); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// process is an external program the test started; it is stopped at cleanup.
type process struct {
	cmd  *exec.Cmd
	out  string
	done chan error
}

func startProcess(t *testing.T, dir, name, bin string, args ...string) *process {
	t.Helper()
	out := filepath.Join(dir, name+".log")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	p := &process{cmd: cmd, out: out, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); f.Close() }()
	t.Cleanup(func() {
		select {
		case err := <-p.done:
			p.done <- err
			return
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *process) wait(d time.Duration) error {
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(d):
		return errors.New("did not finish in time")
	}
}

func (p *process) exited() bool {
	select {
	case err := <-p.done:
		p.done <- err
		return true
	default:
		return false
	}
}

func (p *process) log() string {
	b, _ := os.ReadFile(p.out)
	if len(b) > 8000 {
		b = b[len(b)-8000:]
	}
	return string(b)
}

// waitSIP waits until Kamailio answers an OPTIONS request on its SIP port.
func waitSIP(t *testing.T, port int, kam *process) {
	t.Helper()
	c, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local := c.LocalAddr().String()
	buf := make([]byte, 4096)
	// Until Kamailio has bound its port the probe is refused at once: pace the probes.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := range 150 { // bounded: 15 s
		if kam.exited() {
			t.Fatalf("kamailio exited (%v):\n%s", kam.wait(0), kam.log())
		}
		msg := fmt.Sprintf("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-probe-%d\r\n"+
			"From: <sip:probe@%s>;tag=p%d\r\nTo: <sip:127.0.0.1:%d>\r\nCall-ID: probe-%d@%s\r\nCSeq: 1 OPTIONS\r\n"+
			"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n", port, local, i, local, i, port, i, local)
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if n, err := c.Read(buf); err == nil && bytes.HasPrefix(buf[:n], []byte("SIP/2.0 200")) {
			return
		}
		<-tick.C
	}
	t.Fatalf("kamailio does not answer on port %d:\n%s", port, kam.log())
}

// mediaSink is a phone's media socket: it keeps every packet and its source, and once the
// first packet has come it plays its own packets back to that source, one every 30 ms
// (sip-tester's speech capture is 30 ms PCMA).
type mediaSink struct {
	addr   netip.AddrPort
	conn   *net.UDPConn
	mu     sync.Mutex
	pkts   []received
	done   chan struct{}
	played chan int
	quit   chan struct{}
}

type received struct {
	from netip.AddrPort
	b    []byte
}

func newMediaSink(t *testing.T, play [][]byte) *mediaSink {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	sink := &mediaSink{addr: c.LocalAddr().(*net.UDPAddr).AddrPort(), conn: c, done: make(chan struct{}),
		played: make(chan int, 1), quit: make(chan struct{})}
	first := make(chan netip.AddrPort, 1)
	go func() {
		defer close(sink.done)
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return // closed by stop
			}
			sink.mu.Lock()
			if len(sink.pkts) == 0 {
				first <- from
			}
			sink.pkts = append(sink.pkts, received{from: from, b: append([]byte(nil), buf[:n]...)})
			sink.mu.Unlock()
		}
	}()
	go func() {
		sent := 0
		defer func() { sink.played <- sent }()
		var to netip.AddrPort
		select {
		case to = <-first:
		case <-sink.quit:
			return
		}
		clk := newPhoneClock(30 * time.Millisecond)
		for i, p := range play {
			if !clk.wait(sink.quit, i+1) {
				return
			}
			if _, err := c.WriteToUDPAddrPort(p, to); err == nil {
				sent++
			}
		}
	}()
	t.Cleanup(func() { sink.stop() })
	return sink
}

// stop ends playing and receiving; it returns what was received and how many packets
// were played.
func (c *mediaSink) stop() ([]received, int) {
	select {
	case <-c.quit:
	default:
		close(c.quit)
	}
	played := <-c.played
	c.played <- played
	_ = c.conn.Close()
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pkts, played
}
