package record

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/hushmedia/hush/media/g711"
	"github.com/hushmedia/hush/media/internal/cpucache"
	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/pan"
	"github.com/hushmedia/hush/media/record/seal"
)

// Leg identifies one party of the call; it is also the WAV channel.
type Leg uint8

// Legs.
const (
	LegCustomer Leg = 0 // left channel
	LegAgent    Leg = 1 // right channel
)

var legNames = [NumChannels]string{"customer", "agent"}

func (l Leg) String() string {
	if int(l) < len(legNames) {
		return legNames[l]
	}
	return fmt.Sprintf("leg(%d)", uint8(l))
}

// Other returns the opposite leg.
func (l Leg) Other() Leg { return l ^ 1 }

// Meta identifies a recording. RecordingID names the files and must pass
// ValidateID; the others are copied into the sidecar.
type Meta struct {
	RecordingID string
	SessionID   string
	CallID      string
	AgentID     string
	Labels      map[string]string
	// RetainUntil is when the recording's retention ends (zero: none).
	RetainUntil time.Time
	// Segment numbers the recordings of one session from 1: a call another
	// node took over (after a crash, or handed over in a drain) goes on in
	// a new recording, segment 2, whose PreviousRecordingID names the one
	// before. 0 is the same as 1.
	Segment             int
	PreviousRecordingID string
}

// Action is who asked for a control change and why. Digit runs that could
// be card data are redacted before they are stored: four or more digits in
// Reason (free text typed by people), twelve or more (a PAN's minimum
// length) in the machine-made Actor and RequestID.
type Action struct {
	Actor     string
	RequestID string
	Reason    string
}

// Stats are counters for metrics; safe to read from any goroutine.
type Stats struct {
	RingFull     [NumChannels]uint64 // frames refused by Write: writer behind
	Late         [NumChannels]uint64 // frames older than the flushed timeline
	Reanchors    [NumChannels]uint64 // SSRC changes and timestamp jumps
	Drift        [NumChannels]uint64 // small shifts correcting sender clock drift
	Undecodable  [NumChannels]uint64 // packets in a codec hush cannot decode
	BytesWritten uint64              // PCM bytes appended to the WAV
	Checkpoints  uint64
	Failed       bool
}

const (
	stateRunning int32 = iota
	stateFailed
	stateClosed
)

type cmdKind uint8

const (
	cmdFlush cmdKind = iota
	cmdCheckpoint
	cmdClose
	cmdKill // tests: stop as a crash would, leaving the file as it is
)

type command struct {
	kind  cmdKind
	reply chan error
}

type ctlKind uint8

const (
	ctlPause ctlKind = iota
	ctlResume
	ctlMask
	ctlMaskRTP
	ctlNote
)

// ctlItem is a control request queued for the writer goroutine, which
// owns the timeline and the sidecar state.
type ctlItem struct {
	kind     ctlKind
	at       time.Time
	pos      int64
	act      Action
	name     string // ctlNote: action name
	leg      Leg
	start    int64
	end      int64
	tsStart  uint32
	tsEnd    uint32
	behavior PauseBehavior
}

type maskRec struct {
	leg        Leg
	start, end int64
}

// undecodableCount is written by one leg's packet goroutine and read by
// the writer and Stats, atomically on both sides.
type undecodableCount struct {
	n  atomic.Uint64
	pt atomic.Uint32 // payload type of the first one
	_  [52]byte      // its own cache line: the other leg's goroutine writes the next
}

// writeChunk is the size at which buffered PCM is appended to the file:
// one second of stereo audio per write.
const writeChunk = SampleRate * frameBytes

// patchFrames is how many stereo frames the writer patches in one read and
// write of the file: 100 ms, so a stall's run of late audio costs a few
// file operations, not one per packet.
const patchFrames = 8 * slotSamples

// Recorder writes one session's sanitized stereo recording. Write is
// called from the packet goroutines (one per leg) and never blocks or
// allocates; everything else runs on the recorder's writer goroutine.
type Recorder struct {
	// What every Write reads comes first, on one or two cache lines: with
	// hundreds of recordings each frame finds its recorder out of cache.
	rings [NumChannels]*ring
	state atomic.Int32
	half  uint64
	delay int64 // input delay in samples, taken off each frame's arrival position
	clock Clock // cfg.clock
	start time.Time

	cfg     *config
	dir     string
	wavPath string
	meta    Meta
	key     *seal.Key // the recording's data key when it is sealed at rest
	ckpt    int64
	kick    chan struct{}
	cmds    chan command
	done    chan struct{}

	ctl    sync.Mutex
	paused bool
	closed bool
	inbox  []ctlItem

	failOnce sync.Once
	err      atomic.Pointer[error]
	closeErr error

	undecodable     [NumChannels]undecodableCount
	late, reanchors [NumChannels]atomic.Uint64
	drift           [NumChannels]atomic.Uint64
	bytesWritten    atomic.Uint64
	checkpoints     atomic.Uint64

	// Owned by the writer goroutine.
	f         File
	tl        *timeline
	dataBytes int64
	lastCkpt  int64 // timeline position of the last checkpoint
	ckptBytes int64 // data bytes the header said at the last checkpoint
	work      []ctlItem
	pauses    []PauseSpan // parallel to tl.pauses
	masks     []maskRec
	actions   []ActionRecord
	dirty     bool // pauses, masks or actions changed since the sidecar was written
	finishing bool
	hdr       [maxHeaderSize]byte
	format    Format
	hdrSize   int64               // the format's header
	fb        int64               // the format's bytes per stereo frame
	enc       []byte              // mu-law: the codes of tl.out
	frames    [NumChannels]uint64 // frames placed per leg
	revision  uint64              // of the last sidecar built
	udSeen    [NumChannels]bool   // the first undecodable packet was reported
	scratch   [slotSamples]int16  // a G.711 slot, decoded
	patchBuf  [patchFrames * frameBytes]byte
}

// New creates <dir>/<id>.wav and <dir>/<id>.json (status in_progress)
// and starts the writer goroutine. A failure here means no recording; the
// call should go on without one.
func New(dir string, meta Meta, opts ...Option) (*Recorder, error) {
	if err := ValidateID(meta.RecordingID); err != nil {
		return nil, err
	}
	if meta.PreviousRecordingID != "" {
		if err := ValidateID(meta.PreviousRecordingID); err != nil {
			return nil, fmt.Errorf("previous recording: %w", err)
		}
	}
	if meta.Segment < 0 {
		return nil, fmt.Errorf("%w: segment %d", ErrBadID, meta.Segment)
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	// The sidecar never holds a card number a platform put into an id.
	meta.CallID, meta.AgentID = pan.Scrub(meta.CallID), pan.Scrub(meta.AgentID)
	if len(meta.Labels) > 0 {
		labels := make(map[string]string, len(meta.Labels))
		for k, v := range meta.Labels {
			labels[pan.Scrub(k)] = pan.Scrub(v)
		}
		meta.Labels = labels
	}
	r := &Recorder{
		cfg:     cfg,
		dir:     dir,
		wavPath: filepath.Join(dir, meta.RecordingID+".wav"),
		meta:    meta,
		clock:   cfg.clock,
		start:   cfg.clock.Now(),
		ckpt:    int64(cfg.checkpoint / sampleDur),
		delay:   int64(cfg.inputDelay / sampleDur),
		kick:    make(chan struct{}, 1),
		cmds:    make(chan command),
		done:    make(chan struct{}),
		tl:      newTimeline(int64(cfg.window/sampleDur), int64(cfg.resync/sampleDur)),
		format:  cfg.format,
		hdrSize: cfg.format.headerSize(),
		fb:      cfg.format.frameBytes(),
	}
	for i := range r.rings {
		r.rings[i] = newRing(cfg.ringSlots)
	}
	r.half = uint64(len(r.rings[0].slots) / 2)

	f, err := cfg.fs.OpenFile(r.wavPath, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if os.IsExist(err) {
			return nil, fmt.Errorf("create %s: %w", r.wavPath, ErrExists)
		}
		return nil, fmt.Errorf("create %s: %w", r.wavPath, err)
	}
	if cfg.seal {
		// Sealed at rest: the writer goroutine encrypts what it appends; the
		// plaintext never reaches the disk.
		var w *seal.Writer
		r.key, err = seal.NewKey(cfg.keyring, meta.RecordingID)
		if err == nil {
			w, err = seal.NewWriter(f, r.key, seal.KindWAV)
		}
		if err != nil {
			f.Close()
			cfg.fs.Remove(r.wavPath)
			return nil, fmt.Errorf("start recording %s: seal: %w", meta.RecordingID, err)
		}
		f = &sealedFile{w: w, name: r.wavPath}
	}
	r.f = f
	r.actions = append(r.actions, ActionRecord{Time: r.start, Action: "start"})
	putFormatHeader(r.hdr[:], r.format, 0)
	if _, err = f.WriteAt(r.hdr[:r.hdrSize], 0); err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = r.putSidecar(r.sidecar(StatusInProgress))
	}
	if err != nil {
		f.Close()
		cfg.fs.Remove(r.wavPath)
		return nil, fmt.Errorf("start recording %s: %w", meta.RecordingID, err)
	}
	go r.run()
	return r, nil
}

// ID returns the recording id.
func (r *Recorder) ID() string { return r.meta.RecordingID }

// Start returns the wall time of timeline position 0.
func (r *Recorder) Start() time.Time { return r.start }

// Position returns the current timeline position (samples since Start)
// by the recorder's clock.
func (r *Recorder) Position() int64 { return r.posAt(r.clock.Now()) }

func (r *Recorder) posAt(t time.Time) int64 { return int64(t.Sub(r.start) / sampleDur) }

func (r *Recorder) timeAt(pos int64) time.Time { return r.start.Add(time.Duration(pos) * sampleDur) }

// Write hands one frame of already-masked 16-bit PCM of one leg to the
// recorder, with the RTP SSRC and timestamp (8 kHz clock) it came with.
// It copies pcm and returns at once: it never blocks on the writer or the
// disk and does not allocate. Each leg must have a single writing
// goroutine. Errors: ErrRingFull (frame dropped and counted), ErrFailed,
// ErrClosed, ErrBadLeg; the caller forwards the call regardless.
func (r *Recorder) Write(leg Leg, ssrc, ts uint32, pcm []int16) error {
	q, err := r.writable(leg, len(pcm))
	if q == nil {
		return err
	}
	// The frame was live the input delay ago: place it there (see WithInputDelay).
	if !q.push(ssrc, ts, r.arrival(), pcm) {
		q.dropped.Add(1)
		return ErrRingFull
	}
	r.kickIfHalf(q)
	return nil
}

// WriteG711 is Write for a frame of G.711 codes of law, recorded as the
// PCM they decode to, except that the samples flagged in silent (nil, or
// one flag per code) are recorded as silence (exact zeros, which no A-law
// code decodes to). The recorder decodes on its writer goroutine: the
// packet goroutine copies half the bytes Write would.
func (r *Recorder) WriteG711(leg Leg, ssrc, ts uint32, law g711.Law, codes []byte, silent []bool) error {
	if law != g711.Ulaw && law != g711.Alaw {
		return fmt.Errorf("%w: %v", ErrBadLaw, law)
	}
	q, err := r.writable(leg, len(codes))
	if q == nil {
		return err
	}
	if !q.pushG711(ssrc, ts, r.arrival(), law, codes, silent) {
		q.dropped.Add(1)
		return ErrRingFull
	}
	r.kickIfHalf(q)
	return nil
}

// WriteG711At is WriteG711 for a frame whose first sample reached hush at
// the given time. The frame is placed there, however long the caller held
// it: a tap that keeps the last frames of a talk spurt until more audio
// (or the end of the call) lets it decide about them hands them over late,
// and they still land where they were said. A held frame whose place was
// already written to the file is written into it there (see timeline.patch).
func (r *Recorder) WriteG711At(leg Leg, ssrc, ts uint32, at time.Time, law g711.Law, codes []byte, silent []bool) error {
	if law != g711.Ulaw && law != g711.Alaw {
		return fmt.Errorf("%w: %v", ErrBadLaw, law)
	}
	q, err := r.writable(leg, len(codes))
	if q == nil {
		return err
	}
	if !q.pushG711(ssrc, ts, max(r.posAt(at), 0), law, codes, silent) {
		q.dropped.Add(1)
		return ErrRingFull
	}
	r.kickIfHalf(q)
	return nil
}

// RecordAudio is WriteG711At for a frame of the masker's recording tap
// (media/mask.RecordFrame), placed at its arrival at: with it, and with
// RecordUndecodable, Warm and WarmLevels, the Recorder is media/relay's
// recording sink itself (relay.RecordTap.Sink), so a recorded packet
// reaches the file's ring through no adapter. A frame the recorder refuses
// (closed, failed, ring full) is counted in Stats and the sidecar, as
// WriteG711At's error says.
func (r *Recorder) RecordAudio(leg Leg, ssrc, ts uint32, at time.Time, f *mask.RecordFrame) {
	_ = r.WriteG711At(leg, ssrc, ts, at, f.Law, f.Codes, f.Silent)
}

// RecordUndecodable counts a packet of leg that the recording gets nothing of:
// its payload type pt is a codec hush cannot decode, so its time is
// silence in the file. The sidecar keeps the count per leg and says the
// recording is partial (or undecodable, when no audio at all was
// recorded); the first one of each leg is reported to WithOnUndecodable.
// Like Write it is called on the leg's packet goroutine and never blocks
// or allocates.
func (r *Recorder) RecordUndecodable(leg Leg, pt uint8) {
	if leg > LegAgent {
		return
	}
	u := &r.undecodable[leg]
	if u.n.Load() == 0 {
		u.pt.Store(uint32(pt))
	}
	u.n.Add(1)
}

// WarmLevels is how many levels Warm has.
const WarmLevels = 3

// Warm asks the processor to start loading what the next write of leg's
// audio (RecordAudio, WriteG711At) touches, one pointer level at a time: 0
// the recorder's per-write fields, 1 the leg's ring, 2 the slot the write
// fills; level k reads only what the levels below it loaded. A caller with
// a batch of streams runs a level for all of them before the next, so that
// their cache misses overlap (with hundreds of recordings each write finds
// its recorder out of cache). It changes nothing; a level or leg out of
// range does nothing.
func (r *Recorder) Warm(leg Leg, level int) {
	if leg > LegAgent {
		return
	}
	switch level {
	case 0:
		cpucache.PrefetchRange(unsafe.Pointer(r), unsafe.Offsetof(r.start)+unsafe.Sizeof(r.start))
	case 1:
		cpucache.Prefetch(unsafe.Pointer(r.rings[leg]))
	case 2:
		q := r.rings[leg]
		cpucache.PrefetchRange(unsafe.Pointer(&q.slots[q.tail.Load()&q.mask]), slotPrefetch)
	}
}

// WarmLevels is Warm's number of levels, for a caller that knows the
// Recorder only as a sink (media/relay's RecordWarmer).
func (r *Recorder) WarmLevels() int { return WarmLevels }

// slotPrefetch is how much of a slot Warm covers: its bookkeeping
// and a 20 ms frame's codes.
const slotPrefetch = unsafe.Offsetof(slot{}.data) + slotSamples

// writable returns leg's ring when a frame of n samples may be written;
// nil and the reason (nil for an empty frame) when not.
func (r *Recorder) writable(leg Leg, n int) (*ring, error) {
	if leg > LegAgent {
		return nil, ErrBadLeg
	}
	switch r.state.Load() {
	case stateFailed:
		return nil, ErrFailed
	case stateClosed:
		return nil, ErrClosed
	}
	if n == 0 {
		return nil, nil
	}
	return r.rings[leg], nil
}

// arrival is the timeline position a frame written now belongs at: the
// input delay ago (see WithInputDelay).
func (r *Recorder) arrival() int64 { return max(r.posAt(r.clock.Now())-r.delay, 0) }

// kickIfHalf wakes the writer early when q is half full.
func (r *Recorder) kickIfHalf(q *ring) {
	if q.usedAtLeast(r.half) {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

// Pause starts a pause at the current timeline position. Pausing while
// paused changes nothing and returns false. An empty behaviour means
// PauseSilence.
func (r *Recorder) Pause(b PauseBehavior, a Action) (bool, error) {
	if b == "" {
		b = PauseSilence
	}
	if b != PauseSilence && b != PauseSkip {
		return false, fmt.Errorf("%w: %q", ErrBadBehavior, b)
	}
	return r.control(ctlItem{kind: ctlPause, behavior: b, act: a}, true)
}

// Resume ends the current pause at the current timeline position.
// Resuming while not paused changes nothing and returns false.
func (r *Recorder) Resume(a Action) (bool, error) {
	return r.control(ctlItem{kind: ctlResume, act: a}, false)
}

// Paused reports whether a pause is open.
func (r *Recorder) Paused() bool {
	r.ctl.Lock()
	defer r.ctl.Unlock()
	return r.paused
}

// MarkMask records that the upstream masker replaced [start, end) of leg,
// in timeline samples (see Position), for the sidecar.
func (r *Recorder) MarkMask(leg Leg, start, end int64) error {
	if leg > LegAgent {
		return ErrBadLeg
	}
	if end <= start || start < 0 {
		return fmt.Errorf("%w: mask [%d, %d)", ErrBadSpan, start, end)
	}
	_, err := r.control(ctlItem{kind: ctlMask, leg: leg, start: start, end: end}, false)
	return err
}

// MarkMaskRTP is MarkMask in the leg's RTP timestamps [startTS, endTS);
// the writer maps them with the leg's current anchor.
func (r *Recorder) MarkMaskRTP(leg Leg, startTS, endTS uint32) error {
	if leg > LegAgent {
		return ErrBadLeg
	}
	if d := int32(endTS - startTS); d <= 0 {
		return fmt.Errorf("%w: mask timestamps %d..%d", ErrBadSpan, startTS, endTS)
	}
	_, err := r.control(ctlItem{kind: ctlMaskRTP, leg: leg, tsStart: startTS, tsEnd: endTS}, false)
	return err
}

// Note adds an action (for example "secure_capture_start") to the
// sidecar's audit list.
func (r *Recorder) Note(action string, a Action) error {
	_, err := r.control(ctlItem{kind: ctlNote, name: redactDigits(action, textDigitRun), act: a}, false)
	return err
}

// control queues a control item for the writer. Pause and resume toggle
// the paused state here, under the lock, so repeats are no-ops.
func (r *Recorder) control(it ctlItem, pause bool) (bool, error) {
	it.act = Action{
		Actor:     pan.Scrub(redactDigits(it.act.Actor, idDigitRun)),
		RequestID: pan.Scrub(redactDigits(it.act.RequestID, idDigitRun)),
		Reason:    pan.Scrub(redactDigits(it.act.Reason, textDigitRun)),
	}
	r.ctl.Lock()
	// Stamped under the lock that queues it: a writer round that read the
	// clock before taking the inbox finds every item stamped before then.
	it.at = r.clock.Now()
	it.pos = r.posAt(it.at)
	if r.closed {
		r.ctl.Unlock()
		return false, ErrClosed
	}
	if r.state.Load() == stateFailed {
		r.ctl.Unlock()
		return false, ErrFailed
	}
	switch it.kind {
	case ctlPause, ctlResume:
		if r.paused == pause {
			r.ctl.Unlock()
			return false, nil
		}
		r.paused = pause
	}
	r.inbox = append(r.inbox, it)
	r.ctl.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
	return true, nil
}

// Err returns the error that failed the recording, or nil.
func (r *Recorder) Err() error {
	if p := r.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Stats returns the counters.
func (r *Recorder) Stats() Stats {
	var s Stats
	for i := range s.RingFull {
		s.RingFull[i] = r.rings[i].dropped.Load()
		s.Late[i] = r.late[i].Load()
		s.Reanchors[i] = r.reanchors[i].Load()
		s.Drift[i] = r.drift[i].Load()
		s.Undecodable[i] = r.undecodable[i].n.Load()
	}
	s.BytesWritten = r.bytesWritten.Load()
	s.Checkpoints = r.checkpoints.Load()
	s.Failed = r.state.Load() == stateFailed
	return s
}

// Flush makes the writer drain the rings, move the timeline up to the
// jitter window behind now, and write what it has to the file (without a
// header update or fsync). It returns the recording's failure, if any.
func (r *Recorder) Flush(ctx context.Context) error { return r.command(ctx, cmdFlush) }

// Checkpoint is Flush plus a header update and fsync, as the periodic
// checkpoint does.
func (r *Recorder) Checkpoint(ctx context.Context) error { return r.command(ctx, cmdCheckpoint) }

func (r *Recorder) command(ctx context.Context, k cmdKind) error {
	reply := make(chan error, 1)
	select {
	case r.cmds <- command{kind: k, reply: reply}:
	case <-r.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close flushes all audio up to now (and any that arrived ahead of it),
// closes an open pause, writes the final header, fsyncs, computes the
// SHA-256 and writes the sidecar as complete. It waits for the disk; call
// it off the packet path. Repeated calls return the first result.
func (r *Recorder) Close() error {
	r.ctl.Lock()
	if r.closed {
		r.ctl.Unlock()
		<-r.done
		return r.closeErr
	}
	r.closed = true
	r.ctl.Unlock()
	r.state.CompareAndSwap(stateRunning, stateClosed)
	reply := make(chan error, 1)
	r.cmds <- command{kind: cmdClose, reply: reply}
	<-reply
	<-r.done
	return r.closeErr
}

// kill stops the writer the way a crash would: no final header, no
// sidecar update. For tests.
func (r *Recorder) kill() {
	r.ctl.Lock()
	r.closed = true
	r.ctl.Unlock()
	r.state.Store(stateClosed)
	reply := make(chan error, 1)
	r.cmds <- command{kind: cmdKill, reply: reply}
	<-reply
	<-r.done
}
