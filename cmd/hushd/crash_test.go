package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/hushmedia/hush/media/record"
	"github.com/hushmedia/hush/media/record/seal"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// hushProc is the hushd binary running as a child process.
type hushProc struct {
	cmd    *exec.Cmd
	log    *syncBuffer
	exited chan error
	conn   *grpc.ClientConn
}

// startHushd runs bin recording into recDir and waits until it serves.
func startHushd(t *testing.T, bin, recDir string, extra ...string) *hushProc {
	t.Helper()
	lo, hi := mediaRange(t, 20)
	cmd := exec.Command(bin, "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
		"--media-port-min", itoa(lo), "--media-port-max", itoa(hi), "--session-drain-timeout", "0s",
		"--recording-enabled=true", "--recording-dir", recDir,
		"--audit-file", filepath.Join(t.TempDir(), "audit.jsonl"))
	cmd.Args = append(cmd.Args, extra...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &hushProc{cmd: cmd, log: &syncBuffer{}, exited: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			h.log.Write([]byte(sc.Text() + "\n"))
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		h.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case err := <-h.exited:
			h.exited <- err
		case <-time.After(wait):
			t.Error("hushd child did not exit")
		}
		if h.conn != nil {
			h.conn.Close()
		}
	})
	select {
	case a := <-addr:
		h.conn, err = grpc.NewClient(a, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
	case err := <-h.exited:
		t.Fatalf("hushd exited at start: %v\n%s", err, h.log)
	case <-time.After(wait):
		t.Fatalf("hushd did not report serving\n%s", h.log)
	}
	return h
}

// headerDataBytes reads the data size a WAV's header gives (0 until a checkpoint).
func headerDataBytes(t *testing.T, path string) uint32 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var h [44]byte
	if _, err := f.ReadAt(h[:], 0); err != nil {
		return 0
	}
	return binary.LittleEndian.Uint32(h[40:])
}

// waitFileSize waits until path holds at least size bytes.
func waitFileSize(t *testing.T, path string, size int64, within time.Duration) {
	t.Helper()
	waitFile(t, path, within, fmt.Sprintf("%s to reach %d bytes", path, size), func() bool {
		fi, err := os.Stat(path)
		return err == nil && fi.Size() >= size
	})
}

// waitCheckpoint waits until the recorder has checkpointed path (its header gives a data
// size), and returns that size.
func waitCheckpoint(t *testing.T, path string, within time.Duration) uint32 {
	t.Helper()
	var n uint32
	waitFile(t, path, within, "a checkpoint of "+path, func() bool {
		n = headerDataBytes(t, path)
		return n > 0
	})
	return n
}

// waitFile waits until done reports true, checking it again after each write to path
// (woken through inotify instead of polling).
func waitFile(t *testing.T, path string, within time.Duration, what string, done func() bool) {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatalf("inotify: %v", err)
	}
	f := os.NewFile(uintptr(fd), "inotify")
	defer f.Close()
	if _, err := unix.InotifyAddWatch(fd, path, unix.IN_MODIFY); err != nil {
		t.Fatalf("inotify watch %s: %v", path, err)
	}
	if err := f.SetReadDeadline(time.Now().Add(within)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for range 100000 {
		if done() {
			return
		}
		if _, err := f.Read(buf); err != nil {
			t.Fatalf("waited %v for %s: %v", within, what, err)
		}
	}
	t.Fatalf("no %s", what)
}

// TestCrashRecordingRepaired runs the hushd binary, records a call at real pace past the
// recorder's first checkpoint (media/record's default, every 5 s; hushd has no key for
// it), SIGKILLs hushd mid-call and starts it again on the same directory. Start-up repairs
// the recording: soxi and go-audio/wav read it, it holds the call's audio sample for
// sample up to at least the checkpoint, no further than the kill, and GetRecording on the
// new daemon says REPAIRED with the file's SHA-256.
func TestCrashRecordingRepaired(t *testing.T) {
	t.Parallel()
	testCrashRepair(t, false)
}

// TestCrashSealedRecordingRepaired is TestCrashRecordingRepaired with the recording
// encrypted at rest (hushd's default): the repaired sealed file decrypts, with the key
// file alone, to the call's audio up to at least its last checkpoint, and no file in the
// recordings directory ever holds the recorded PCM in the clear.
func TestCrashSealedRecordingRepaired(t *testing.T) {
	t.Parallel()
	testCrashRepair(t, true)
}

func testCrashRepair(t *testing.T, sealed bool) {
	needDebianTool(t, "soxi", "sox")
	bin := buildHushd(t)
	recDir := filepath.Join(t.TempDir(), "recordings")
	keyFile := filepath.Join(t.TempDir(), "keys", "recording.kek")
	args := []string{"--recording-key-file", keyFile, "--recording-encrypt=" + strconv.FormatBool(sealed)}
	first := startHushd(t, bin, recDir, args...)
	sc := hushv1.NewSessionServiceClient(first.conn)
	cust := newEndpoint(t, "udp4", "127.0.0.1:0")
	agent := newEndpoint(t, "udp4", "127.0.0.1:0")
	s, err := sc.CreateSession(tctx(t), &hushv1.CreateSessionRequest{
		CallId:   "crash",
		Customer: &hushv1.Leg{RemoteAddr: cust.addr().String()},
		Agent:    &hushv1.Leg{RemoteAddr: agent.addr().String()},
	})
	if err != nil {
		t.Fatal(err)
	}
	const slots = 450 // 9 s: the checkpoint comes at 5 s, the kill two seconds later
	sp := promptSpeech(t, 2*slots*audioFrame, 0)
	var in [2][]int16
	phones := [2]*phone{{pt: 0, ssrc: 0x41, ts0: 1000}, {pt: 8, ssrc: 0x42, ts0: 2000}}
	wires := [2]wire{{from: cust, to: addrPort(s.Customer.LocalAddr)}, {from: agent, to: addrPort(s.Agent.LocalAddr)}}
	// The customer keys a digit after the checkpoint: its mask span is known only after
	// it, and the masked audio reaches the file before the kill.
	tone := keyBurst{key: '5', at: 5600 * audioPerMs, dur: 150 * audioPerMs, dbm0: -10}
	for l := range 2 {
		pcm := make([]int16, slots*audioFrame)
		if l == 0 {
			pcm = speechWithBursts(sp[:len(pcm)], []keyBurst{tone}, rand.New(rand.NewPCG(41, 42)))
		}
		for j := range pcm {
			if l == 1 {
				pcm[j] = int16(sp[l*len(pcm)+j])
			}
		}
		pcm[0] = 3000 // the leg's first sample is not silent: it marks the anchor
		in[l] = decoded(phones[l].pt, pcm)
		for k := range slots {
			wires[l].pkts = append(wires[l].pkts, timed{k, phones[l].audio(t, k*audioFrame, pcm[k*audioFrame:(k+1)*audioFrame])})
		}
	}
	var marks []int
	for k := range slots {
		marks = append(marks, k)
	}
	p := pace(wires[:], marks...)
	defer p.stop()

	wavs, _ := filepath.Glob(filepath.Join(recDir, "*", "*", "*", s.RecordingId+".wav")) // filed by day
	if len(wavs) != 1 {
		t.Fatalf("recording files %v", wavs)
	}
	wavPath := wavs[0]
	var ckptBytes uint32
	if sealed {
		ckptBytes = waitSealedCheckpoint(t, wavPath, keyFile, 8*time.Second)
	} else {
		ckptBytes = waitCheckpoint(t, wavPath, 8*time.Second)
	}
	ckptSlot := int(p.slot.Load())
	if ckptSlot+50 >= slots {
		t.Fatalf("checkpoint only at packet %d of %d", ckptSlot, slots)
	}
	p.waitSlot(t, max(ckptSlot+50, (tone.at+tone.dur)/audioFrame+80))
	// The key must be in the file when hushd dies: the writer appends a second at a time
	// behind its jitter window, later when the machine is loaded.
	waitFileSize(t, wavPath, 44+4*int64(tone.at+tone.dur+audioRate/2), 8*time.Second)
	killAt := time.Now()
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-first.exited:
		first.exited <- err
	case <-time.After(wait):
		t.Fatal("killed hushd did not exit")
	}
	p.stop()
	onDisk, err := os.ReadFile(wavPath) // what the crash left, before repair
	if err != nil {
		t.Fatal(err)
	}

	second := startHushd(t, bin, recDir, args...)
	if !strings.Contains(second.log.String(), "recording left open by a crash was repaired") {
		t.Errorf("restart log does not report the repair:\n%s", second.log)
	}
	rec, err := hushv1.NewRecordingServiceClient(second.conn).GetRecording(tctx(t), &hushv1.GetRecordingRequest{RecordingId: s.RecordingId})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != hushv1.RecordingStatus_RECORDING_STATUS_REPAIRED {
		t.Errorf("status %v, want REPAIRED", rec.Status)
	}
	raw, err := os.ReadFile(wavPath)
	if err != nil {
		t.Fatal(err)
	}
	if sealed {
		plain := decryptRecording(t, wavPath, keyFile)
		noPlaintextUnder(t, recDir, plain)
		raw, wavPath = plain, filepath.Join(t.TempDir(), "decrypted.wav")
		if err := os.WriteFile(wavPath, raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if sum := sha256.Sum256(raw); rec.Sha256 != hex.EncodeToString(sum[:]) {
		t.Errorf("sidecar sha256 %q is not the repaired file's", rec.Sha256)
	}
	f := checkStereo(t, wavPath)
	chans, err := decodeWAV(raw, 2)
	if err != nil {
		t.Fatalf("go-audio/wav: %v", err)
	}
	if int64(len(chans[0])) != f.samples || uint64(len(raw)) != rec.SizeBytes {
		t.Fatalf("go-audio/wav reads %d samples, soxi %d; file %d bytes, sidecar %d", len(chans[0]), f.samples, len(raw), rec.SizeBytes)
	}
	length := time.Duration(f.samples) * time.Second / audioRate
	killOff := killAt.Sub(rec.StartTime.AsTime())
	if 4*f.samples < int64(ckptBytes) {
		t.Errorf("repaired file has %d samples, the checkpoint had %d", f.samples, ckptBytes/4)
	}
	if length > killOff {
		t.Errorf("repaired file is %v long, hushd was killed %v into the recording", length, killOff)
	}
	// Repair keeps every whole frame the crash left on disk, as it was: audio after the
	// checkpoint too. (Only the plain file can be compared before repair.)
	if !sealed {
		whole := 44 + (len(onDisk)-44)/4*4
		if !bytes.Equal(raw[44:], onDisk[44:whole]) {
			t.Errorf("repair changed the audio on disk: %d bytes left by the crash, %d after repair", whole-44, len(raw)-44)
		}
	}
	// The audio is there, sample for sample, from each leg's anchor to the checkpoint, but
	// where the notch took DTMF bands out of speech; none of it is recorded as silence. That
	// is what a checkpoint promises (media/record: a file cut at any moment plays up to its
	// last checkpoint). After it, the file holds what reached the disk before the kill,
	// checked byte for byte above, and a leg's audio hush held back to write into its place
	// later may be missing. Anywhere, audio that reached hush later than the recorder's
	// jitter window allows is silence by design (dropped and counted as late): the packets
	// the pacer sent more than half that window behind their time (its goroutine starved;
	// it sends both legs) are not judged.
	ckptFrames := int(ckptBytes / 4)
	unjudged := 0
	for l, name := range []string{"customer", "agent"} {
		ch := chans[l]
		anchor := firstNonZero(ch)
		if anchor < 0 || anchor > audioRate {
			t.Fatalf("%s: audio starts at sample %d", name, anchor)
		}
		n := min(len(ch)-anchor, len(in[l]))
		if n < 4*audioRate {
			t.Errorf("%s: only %d samples of audio survive", name, n)
		}
		silenced, notched, tail := 0, 0, 0
		for j := range n {
			v, got := in[l][j], ch[anchor+j]
			switch k := j / audioFrame; {
			case got == v || l == 0 && tone.near(j):
			case anchor+j >= ckptFrames:
				if got == 0 && (v >= 64 || v <= -64) && zeroRun(ch, anchor+j) >= 16 {
					tail++
				}
				continue
			case k >= len(p.late) || p.late[k]-p.late[0] > record.DefaultJitterWindow/2:
				unjudged++
				continue
			case got == 0 && (v >= 64 || v <= -64) && zeroRun(ch, anchor+j) >= 16:
				silenced++
			default:
				notched++
			}
		}
		if l == 0 && anchor+tone.at+tone.dur > len(ch) {
			t.Errorf("the repaired file (%d samples) ends before the customer's key (%d..%d)", len(ch), anchor+tone.at, anchor+tone.at+tone.dur)
		} else if l == 0 {
			covered := false
			for _, m := range rec.Masks {
				covered = covered || m.Leg == hushv1.LegName_LEG_NAME_CUSTOMER &&
					m.StartSample <= uint64(anchor+tone.at) && m.EndSample >= uint64(anchor+tone.at+tone.dur)
			}
			if !covered {
				t.Errorf("the customer's masked key is in the repaired file, but no mask span in the sidecar covers it (%d spans)", len(rec.Masks))
			}
		}
		if silenced != 0 {
			t.Errorf("%s: %d of %d checkpointed samples of the call's audio are silence", name, silenced, min(n, ckptFrames-anchor))
		}
		t.Logf("%s: %d of %d recorded samples notched; %d silent samples after the checkpoint", name, notched, n, tail)
	}
	if unjudged > 0 {
		t.Logf("%d samples before the checkpoint not judged: the sender was stalled", unjudged)
	}
	t.Logf("checkpoint at %.2f s of audio (%d bytes, packet %d); SIGKILL %.2f s into the recording; repaired file %.2f s (%d bytes), %.2f s short of the kill; status %v",
		float64(ckptBytes)/4/audioRate, ckptBytes, ckptSlot, killOff.Seconds(), length.Seconds(), len(raw), (killOff - length).Seconds(), rec.Status)
}

// sealedHeaderDataBytes decrypts what a sealed recording holds so far and returns the data
// size its WAV header gives (0 until a checkpoint, or while the key file is not yet there).
func sealedHeaderDataBytes(path, keyFile string) uint32 {
	kr, err := seal.LoadKeyFile(keyFile)
	if err != nil {
		return 0
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	r, err := seal.Open(bytes.NewReader(b), int64(len(b)), kr, "")
	if err != nil || r.Size() < 44 {
		return 0
	}
	var h [44]byte
	if _, err := r.ReadAt(h[:], 0); err != nil && !errors.Is(err, io.EOF) {
		return 0
	}
	return binary.LittleEndian.Uint32(h[40:])
}

// waitSealedCheckpoint is waitCheckpoint for a sealed recording.
func waitSealedCheckpoint(t *testing.T, path, keyFile string, within time.Duration) uint32 {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatalf("inotify: %v", err)
	}
	f := os.NewFile(uintptr(fd), "inotify")
	defer f.Close()
	if _, err := unix.InotifyAddWatch(fd, path, unix.IN_MODIFY); err != nil {
		t.Fatalf("inotify watch %s: %v", path, err)
	}
	if err := f.SetReadDeadline(time.Now().Add(within)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for range 100000 {
		if n := sealedHeaderDataBytes(path, keyFile); n > 0 {
			return n
		}
		if _, err := f.Read(buf); err != nil {
			t.Fatalf("no checkpoint of %s within %v: %v", path, within, err)
		}
	}
	t.Fatal("no checkpoint")
	return 0
}

// decryptRecording opens a sealed recording with the key file alone, as an investigator
// would, and returns the plain WAV; it must end with its final record.
func decryptRecording(t *testing.T, path, keyFile string) []byte {
	t.Helper()
	kr, err := seal.LoadKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	dir, name := filepath.Split(path)
	w, err := record.OpenWAV(dir, strings.TrimSuffix(name, ".wav"), record.WithKeyring(kr))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if !w.Sealed || w.Complete != nil {
		t.Fatalf("%s: sealed %v, complete: %v", path, w.Sealed, w.Complete)
	}
	b := make([]byte, w.Size)
	if _, err := w.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return b
}

// noPlaintextUnder fails when a file under dir holds a stretch of the recorded audio of
// plain (a WAV): 64 bytes from each non-silent second.
func noPlaintextUnder(t *testing.T, dir string, plain []byte) {
	t.Helper()
	var needles [][]byte
	for off := 44 + 8000; off+64 <= len(plain); off += 32000 {
		if n := plain[off : off+64]; !bytes.Equal(n, make([]byte, 64)) {
			needles = append(needles, n)
		}
	}
	if len(needles) == 0 {
		t.Fatal("no audio to look for")
	}
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(path)
		for _, n := range needles {
			if bytes.Contains(b, n) {
				t.Errorf("%s holds recorded audio in the clear", path)
				return nil
			}
		}
		return nil
	})
}

// unsealed returns a recording file's contents decrypted with the key file (and the path
// of a plain copy), or the file as it is when it is not sealed.
func unsealed(t *testing.T, path string, b []byte, keyFile string) ([]byte, string) {
	t.Helper()
	if !seal.IsSealed(b) {
		return b, path
	}
	kr, err := seal.LoadKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(path), ".json"), ".wav")
	plain, _, err := seal.OpenBytes(kr, b, id)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(out, plain, 0o600); err != nil {
		t.Fatal(err)
	}
	return plain, out
}
