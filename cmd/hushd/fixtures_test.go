package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/relay/relaytest/pcap"
	"github.com/hushmedia/hush/media/rtp"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

const sharedTestdata = "../../testdata"

// The shared fixtures are what `go run ./testdata/gen` makes, every file is in
// testdata/README.md's table, and each still holds what the table says.
func TestSharedFixtures(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the fixture generator; skipped with -short")
	}
	out := t.TempDir()
	if b, err := exec.Command("go", "run", "../../testdata/gen", "-dir", out).CombinedOutput(); err != nil {
		t.Fatalf("go run ./testdata/gen: %v\n%s", err, b)
	}
	err := filepath.WalkDir(out, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(out, p)
		made, _ := os.ReadFile(p)
		have, err := os.ReadFile(filepath.Join(sharedTestdata, rel))
		if err != nil || !bytes.Equal(made, have) {
			t.Errorf("testdata/%s differs from what testdata/gen makes (run go run ./testdata/gen): %v", rel, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	readme, err := os.ReadFile(filepath.Join(sharedTestdata, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(sharedTestdata, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(sharedTestdata, p)
		rel = filepath.ToSlash(rel)
		if rel == "README.md" || rel == ".gitattributes" || strings.HasPrefix(rel, "gen/") {
			return nil
		}
		if !bytes.Contains(readme, []byte("`"+rel+"`")) {
			t.Errorf("testdata/%s is not in testdata/README.md", rel)
		}
		if strings.HasSuffix(rel, ".sdp") {
			checkSDP(t, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkSDP checks a fixture is SDP as RFC 4566 writes it: CRLF lines of type=value, v=0 first.
func checkSDP(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\r\n")
	if lines[len(lines)-1] != "" || lines[0] != "v=0" {
		t.Errorf("%s: must start with v=0 and end with CRLF", path)
	}
	for _, l := range lines[:len(lines)-1] {
		if len(l) < 3 || l[1] != '=' || l[0] < 'a' || l[0] > 'z' || strings.ContainsAny(l, "\r\n") {
			t.Errorf("%s: line %q is not type=value", path, l)
		}
	}
}

// The shared WAV holds the keys 1, 4, 7 over a carrier, for multimon-ng.
func TestSharedWAVKeys(t *testing.T) {
	bin := needDebianTool(t, "multimon-ng", "multimon-ng")
	out, err := exec.Command(bin, "-q", "-t", "wav", "-a", "DTMF", filepath.Join(sharedTestdata, "wav", "dtmf-147.wav")).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(strings.Fields(strings.ReplaceAll(string(out), "DTMF:", "")), ""); got != "147" {
		t.Fatalf("multimon-ng finds %q in dtmf-147.wav, want 147", got)
	}
}

// The shared capture, replayed at its own pace into a session whose agent side is masked
// (the default): the agent gets every audio packet and none of the 7 RFC 4733 packets of
// the key, which hush counts as masked events.
func TestSharedPcapMasksEvents(t *testing.T) {
	f, err := os.Open(filepath.Join(sharedTestdata, "pcap", "pcmu-rfc4733-5.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := pcap.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var ticks [][][]byte
	var last time.Duration = -1
	audio, events := 0, 0
	var lastAudio []byte
	for range 1000 {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		dg, err := pcap.UDP(rd.LinkType, rec.Data)
		if err != nil {
			t.Fatal(err)
		}
		dg.Payload = bytes.Clone(dg.Payload) // the reader reuses its buffer
		var h rtp.Header
		if _, err := h.Unmarshal(dg.Payload); err != nil {
			t.Fatal(err)
		}
		if h.PayloadType == 101 {
			events++
		} else {
			audio++
			lastAudio = dg.Payload
		}
		if at := rec.Time.Sub(time.Unix(0, 0)); at != last {
			ticks, last = append(ticks, nil), at
		}
		ticks[len(ticks)-1] = append(ticks[len(ticks)-1], dg.Payload)
	}
	if audio != 50 || events != 7 {
		t.Fatalf("capture: %d audio and %d event packets, want 50 and 7", audio, events)
	}

	d := startDaemon(t)
	cust, agent := newEndpoint(t, "udp4", "127.0.0.1:0"), newEndpoint(t, "udp4", "127.0.0.1:0")
	s, err := d.session.CreateSession(d.ctx(), &hushv1.CreateSessionRequest{CallId: "fixture",
		Customer: &hushv1.Leg{RemoteAddr: cust.addr().String(), TelephoneEventPt: 101},
		Agent:    &hushv1.Leg{RemoteAddr: agent.addr().String(), TelephoneEventPt: 101}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(len(ticks))*audioPtime+wait)
	defer cancel()
	type result struct {
		got []rxPacket
		err error
	}
	done := make(chan result, 1)
	go func() {
		got, err := receiveUntil(agent.conn, time.Now().Add(time.Duration(len(ticks))*audioPtime+wait),
			func(p []byte) bool { return bytes.Equal(p, lastAudio) })
		done <- result{got, err}
	}()
	if _, err := paceSend(ctx, cust.conn, s.Customer.LocalAddr, ticks); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	toneAudio := 0
	for _, p := range r.got {
		if h := rtpHeaderOf(t, p.pkt); h.PayloadType == 101 {
			t.Fatal("an RFC 4733 packet reached the masked agent")
		} else if h.PayloadType == 0 {
			toneAudio++
		}
	}
	if toneAudio < audio {
		t.Errorf("the agent got %d audio packets, want at least the %d sent", toneAudio, audio)
	}
	if v := d.metric(`hush_packets_dropped_total{direction="customer_to_agent",reason="masked_event"}`); v != float64(events) {
		t.Errorf("masked events counted %v, want %d", v, events)
	}
}
