// Package record writes hush's sanitized call recordings: one stereo
// 16-bit PCM WAV at 8 kHz per session (customer left, agent right) with a
// JSON sidecar, crash-safe and repairable.
//
// # Handoff
//
// The packet goroutines (one per direction, so one per leg) call
// Recorder.WriteG711 with the G.711 codes, the samples to record as
// silence (DTMF), the RTP SSRC and timestamp; Recorder.Write takes
// already-masked PCM instead. Handing over codes halves the bytes the
// packet path copies and the writer's core then reads; the writer
// decodes. Either copies the frame into a preallocated single-producer
// single-consumer ring of fixed 20 ms slots (a 60 ms frame takes three),
// stamps it with its arrival position on the recording clock and
// returns: no lock, no channel send in the common case, no allocation.
// When the ring is full the frame is dropped and counted (ErrRingFull,
// Stats.RingFull, sidecar dropped.*_ring_full); the call is never slowed
// by the disk. When a ring reaches half full Write pokes the writer with a
// non-blocking send; otherwise the writer drains on a timer (250 ms: with
// hundreds of recordings, each wake-up of each writer costs more than the
// frames it moves, and the ring holds 1.28 s).
//
// # Timeline
//
// Each recording has one sample timeline: position 0 is the moment New
// was called, one position is one 8 kHz sample (125 µs) of wall clock.
// The writer goroutine maps each leg's RTP timestamps onto it: the first
// frame of a leg, and the first frame after an SSRC change, anchors the
// leg at its arrival position (so a leg that starts late starts at the
// right place); later frames are placed by the serial-number difference
// (RFC 1982, RFC 3550 §5.1) of their timestamp to the newest one seen, so
// the 32-bit wrap is invisible. Positions nobody wrote are silence: loss
// is silence of exactly the lost length and both channels stay aligned;
// a remote that stops sending leaves its channel silent while the other
// goes on. Audio is held for a jitter window (300 ms) before it is
// flushed, so reordered frames land in place; a frame older than what
// was already flushed is dropped and counted as late, unless it reached
// hush in time and was held upstream: WriteG711At takes a frame with its
// arrival time (the recording tap holds the last 80 ms of a talk spurt
// until it has analysed what follows, which may be the next spurt or the
// end of the call; media/relay dates a frame that waited unread in its
// socket, hush being busy, by the kernel's receive time), and such a
// frame is written into its place, in the buffer or on disk, pauses
// respected. A newer frame more
// than the resync threshold (1 s) away from its arrival time (a
// timestamp jump, a sender whose clock stalled or restarted) or an older
// one more than that behind re-anchors the leg by wall clock. Slow drift
// between the sender's sample clock and ours is watched over 2 s epochs:
// when every frame of an epoch deviates from its arrival by more than half
// the window in the same direction, the leg is nudged back (a few ms of
// silence or overlap once in a long while) before any frame is late; a
// jitter burst does not move every frame of an epoch, so it is not taken
// for drift. The clock
// is injectable (WithClock), which makes all of this testable without
// sleeping. RTP sequence numbers are not needed: the timestamp alone
// places a frame, and a duplicate lands on itself. Recording time uses
// the monotonic clock reading, so a wall-clock step does not shift legs.
//
// # Pause and masks
//
// Pause and Resume act at the current timeline position and are applied
// when that part of the timeline is flushed: PauseSilence writes zeros
// (timeline kept), PauseSkip leaves the span out of the file. Repeating a
// pause while paused, or a resume while running, is a no-op. The sidecar
// keeps each span with timeline and file sample offsets, wall times,
// behaviour, actor, request id and reason. Audio arriving for a paused
// span is zeroed in memory when flushed and never written. MarkMask and
// MarkMaskRTP record spans the upstream DTMF masker replaced; the audio
// itself arrives masked. Free text is redacted of digit runs (four or more
// in reasons, twelve or more in actor and request ids) so card numbers
// typed there never reach the disk; the sidecar has no digit fields.
// The audio reaches the recorder L_rec behind real time (the mask
// stage's look-ahead); WithInputDelay(L_rec) places each frame L_rec
// before its arrival, where it was live, so the timeline follows the
// call's wall clock and what was said during a pause, and only that, is left
// out.
//
// # WAV and checkpoints
//
// The 44-byte header (RIFF/WAVE, a 16-byte "fmt " PCM chunk, "data") is
// written with encoding/binary rather than go-audio/wav's Encoder: the
// Encoder updates the sizes only in Close through Seek, so it cannot
// checkpoint a file that stays open, and it converts every sample through
// an []int buffer and binary.Write, which allocates. The layout is the
// same one go-audio/wav writes and reads; the tests decode every file
// with go-audio/wav's decoder and with sox. PCM is appended with WriteAt
// in one-second (32 KB) writes. Every 5 s of clock (WithCheckpointInterval)
// the writer appends what it holds, rewrites the header with the sizes of
// the data written so far and fsyncs, so a file cut at any moment plays
// up to its last checkpoint. Pause and mask spans reach the sidecar before
// the audio they describe reaches the file (Repair keeps audio written
// after the last checkpoint, and so the spans with it). Close flushes the timeline to now, writes
// the final header, fsyncs, streams the file through SHA-256 and writes
// the sidecar as complete. Sidecars are always written atomically: temp
// file, fsync, rename, directory fsync.
//
// # Repair
//
// New writes a sidecar with status in_progress before any audio. At
// start-up hushd calls Repair(dir): recordings whose sidecar still says
// in_progress, whose sidecar is missing or unreadable, or whose header
// sizes disagree with the file length get the header rewritten to the
// largest whole stereo frame count on disk (audio appended after the last
// checkpoint is kept), a partial trailing frame truncated, an fsync, a
// new SHA-256 and status repaired in the sidecar with a note.
//
// # Failure
//
// All file I/O goes through the FS and File interfaces (WithFS), so tests
// inject ENOSPC and EIO. The first write, fsync or sidecar error stops the
// recording: the file is closed, the sidecar marked failed with the
// reason if the disk still takes it (if not, it stays in_progress and
// Repair handles it), Err returns the error, the WithOnFailure callback
// runs once (hushd emits an event and bumps a metric there) and Write
// returns ErrFailed at once from then on. The call itself is untouched.
//
// # Integration
//
// hushd files recordings by the UTC day they start (DateDir: root/YYYY/MM/DD;
// recordings from before that layout stay in root) and calls Repair on each
// directory of Dirs(root) once at start-up, New per session (a failure
// there means the call runs unrecorded), hands the recorder to the two
// packet goroutines for WriteG711At (and Undecodable for packets in a codec
// it cannot decode, which the sidecar counts: content partial, or
// undecodable when no audio at all was recorded), calls
// Pause/Resume/MarkMask/Note from the control plane, polls Stats for
// metrics, and Close at hangup (off the packet path: it waits for the
// disk). WithOnSidecar hands every sidecar the recorder writes to the index
// QA lists recordings from (package index); Get and WAVPath read one.
// Memory per recording is about 210 KB: two 64-slot rings (43 KB), the
// 4 s pending timeline (128 KB) and a 40 KB write buffer; one writer
// goroutine per recording.
//
// Write and WriteG711 allocate nothing (TestWriteAllocatesNothing); the
// writer's cost per stereo second (BenchmarkTimelineSecond,
// BenchmarkRecorderSecond) is in docs/PERFORMANCE.md.
package record
