package record

import "errors"

// Sentinel errors. Functions wrap them with %w and context; test with errors.Is.
var (
	// ErrClosed is returned by calls on a Recorder after Close.
	ErrClosed = errors.New("record: recorder closed")
	// ErrFailed is returned by Write and control calls once the recording has
	// failed (disk full, I/O error). The call itself goes on; see Recorder.Err.
	ErrFailed = errors.New("record: recording failed")
	// ErrRingFull means the writer fell behind and this frame was dropped
	// (and counted) rather than blocking the packet goroutine.
	ErrRingFull = errors.New("record: handoff ring full, frame dropped")
	// ErrBadLeg is returned for a leg other than LegCustomer or LegAgent.
	ErrBadLeg = errors.New("record: unknown leg")
	// ErrBadLaw is returned by WriteG711 for a law other than mu-law or A-law.
	ErrBadLaw = errors.New("record: not a G.711 law")
	// ErrBadID rejects a recording id that is not safe as a file name.
	ErrBadID = errors.New("record: invalid recording id")
	// ErrExists means a recording with this id already exists in the directory.
	ErrExists = errors.New("record: recording already exists")
	// ErrBadOption rejects an option value (negative interval, zero ring...).
	ErrBadOption = errors.New("record: invalid option")
	// ErrBadBehavior rejects a pause behaviour other than silence or skip.
	ErrBadBehavior = errors.New("record: invalid pause behavior")
	// ErrBadSpan rejects a mask span whose end is not after its start.
	ErrBadSpan = errors.New("record: invalid span")
	// ErrBadHeader means a file does not start with hush's 44-byte
	// stereo 16-bit 8 kHz PCM WAV header.
	ErrBadHeader = errors.New("record: not a hush WAV header")
	// ErrBadSidecar means a sidecar file is not valid hush sidecar JSON.
	ErrBadSidecar = errors.New("record: invalid sidecar")
	// ErrTooLong means the recording reached the 4 GiB RIFF size limit
	// (about 37 hours of stereo 8 kHz audio); recording stops there.
	ErrTooLong = errors.New("record: recording exceeds WAV size limit")
)

// ErrMissingWAV is reported by Repair for a sidecar whose WAV is gone.
var ErrMissingWAV = errors.New("record: wav file missing")

// ErrInProgress means the recording is still being written.
var ErrInProgress = errors.New("record: recording in progress")
