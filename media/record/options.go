package record

import (
	"fmt"
	"time"

	"github.com/hushmedia/hush/media/background"
	"github.com/hushmedia/hush/media/record/seal"
)

// Clock tells the time. Tests inject a fake one so timeline placement,
// pauses and checkpoints are deterministic.
type Clock interface {
	Now() time.Time
}

// ClockFunc adapts a function to Clock.
type ClockFunc func() time.Time

// Now calls f.
func (f ClockFunc) Now() time.Time { return f() }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Option configures New, Repair and List.
type Option func(*config) error

type config struct {
	clock      Clock
	fs         FS
	checkpoint time.Duration
	window     time.Duration
	resync     time.Duration
	ringSlots  int
	drainEvery time.Duration
	onFailure  func(error)
	onUndec    func(Leg, uint8)
	onSidecar  func(*Sidecar)
	inputDelay time.Duration
	format     Format
	keyring    seal.Keyring // opens sealed files
	seal       bool         // New seals the recording with keyring's current key
	pool       *background.Pool
}

// Defaults.
const (
	DefaultCheckpointInterval = 5 * time.Second
	DefaultJitterWindow       = 300 * time.Millisecond
	DefaultResyncThreshold    = 1 * time.Second
	DefaultRingSlots          = 64 // 1.28 s of 20 ms frames per leg
	DefaultDrainInterval      = 250 * time.Millisecond
)

func newConfig(opts []Option) (*config, error) {
	c := &config{
		clock:      systemClock{},
		fs:         OSFS{},
		checkpoint: DefaultCheckpointInterval,
		window:     DefaultJitterWindow,
		resync:     DefaultResyncThreshold,
		ringSlots:  DefaultRingSlots,
		drainEvery: DefaultDrainInterval,
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if c.resync < c.window {
		return nil, fmt.Errorf("%w: resync threshold %v below jitter window %v", ErrBadOption, c.resync, c.window)
	}
	if c.window+c.resync > (pendSamples/2)*sampleDur {
		return nil, fmt.Errorf("%w: jitter window + resync threshold above %v", ErrBadOption, (pendSamples/2)*sampleDur)
	}
	return c, nil
}

// WithPool runs the writer's work (draining, file writes, checkpoints, the
// final hash) on p's low-priority threads, so it yields the processor to
// the media workers on a busy host. nil (the default): on the writer's own
// goroutine, at the process's priority.
func WithPool(p *background.Pool) Option {
	return func(cfg *config) error {
		cfg.pool = p
		return nil
	}
}

// WithClock sets the clock (default: time.Now).
func WithClock(c Clock) Option {
	return func(cfg *config) error {
		if c == nil {
			return fmt.Errorf("%w: nil clock", ErrBadOption)
		}
		cfg.clock = c
		return nil
	}
}

// WithFS sets the file system (default: OSFS).
func WithFS(fs FS) Option {
	return func(cfg *config) error {
		if fs == nil {
			return fmt.Errorf("%w: nil FS", ErrBadOption)
		}
		cfg.fs = fs
		return nil
	}
}

// WithCheckpointInterval sets how often (by the clock) the WAV header is
// rewritten and the file fsynced; a crash loses at most this much audio.
func WithCheckpointInterval(d time.Duration) Option {
	return func(cfg *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: checkpoint interval %v", ErrBadOption, d)
		}
		cfg.checkpoint = d
		return nil
	}
}

// WithJitterWindow sets how long audio is held before it is flushed, so
// reordered frames up to this late still land in place.
func WithJitterWindow(d time.Duration) Option {
	return func(cfg *config) error {
		if d < 0 {
			return fmt.Errorf("%w: jitter window %v", ErrBadOption, d)
		}
		cfg.window = d
		return nil
	}
}

// WithResyncThreshold sets how far a leg's RTP-timestamp position may
// stray from its arrival time before the leg is re-anchored by wall clock.
// It must be at least the jitter window.
func WithResyncThreshold(d time.Duration) Option {
	return func(cfg *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: resync threshold %v", ErrBadOption, d)
		}
		cfg.resync = d
		return nil
	}
}

// WithRingSlots sets the handoff ring size per leg in 20 ms slots
// (rounded up to a power of two).
func WithRingSlots(n int) Option {
	return func(cfg *config) error {
		if n < 2 || n > 1<<16 {
			return fmt.Errorf("%w: ring slots %d", ErrBadOption, n)
		}
		cfg.ringSlots = n
		return nil
	}
}

// WithDrainInterval sets how often (real time) the writer drains the
// rings on its own; it is also woken when a ring is half full. 0 turns
// the timer off (tests drive the writer with Flush).
func WithDrainInterval(d time.Duration) Option {
	return func(cfg *config) error {
		if d < 0 {
			return fmt.Errorf("%w: drain interval %v", ErrBadOption, d)
		}
		cfg.drainEvery = d
		return nil
	}
}

// WithOnFailure sets a callback run once, on a goroutine of its own, when
// the recording fails. Use it to emit an event and bump a metric.
func WithOnFailure(f func(error)) Option {
	return func(cfg *config) error {
		cfg.onFailure = f
		return nil
	}
}

// WithInputDelay tells the recorder that the audio handed to Write lags
// real time by d (the recording look-ahead L_rec of the mask stage). Write
// then places a frame at its arrival minus d, which is when it was live, so
// the timeline matches the call's wall clock and a Pause or Resume at the
// moment of the request covers exactly what was said during the pause.
func WithInputDelay(d time.Duration) Option {
	return func(cfg *config) error {
		if d < 0 || d > time.Second {
			return fmt.Errorf("%w: input delay %v", ErrBadOption, d)
		}
		cfg.inputDelay = d
		return nil
	}
}

// WithOnUndecodable sets a callback run once per leg, on a goroutine of its
// own, after the first packet of the leg in a codec hush cannot decode (see
// Recorder.Undecodable), with its payload type. hushd emits an event there.
func WithOnUndecodable(f func(leg Leg, pt uint8)) Option {
	return func(cfg *config) error {
		cfg.onUndec = f
		return nil
	}
}

// WithOnSidecar sets a callback run on the writer goroutine with each
// sidecar the recorder writes or means to write: at the start, when spans
// change, at the end and when the recording fails (also when the disk
// refused the sidecar: the document is what the recording is). An index of
// recordings keeps itself current there. It must not call the recorder.
func WithOnSidecar(f func(*Sidecar)) Option {
	return func(cfg *config) error {
		cfg.onSidecar = f
		return nil
	}
}

// WithFormat sets the audio encoding of new recordings (default FormatPCM16).
func WithFormat(f Format) Option {
	return func(cfg *config) error {
		if f != FormatPCM16 && f != FormatULaw {
			return fmt.Errorf("%w: format %d", ErrBadOption, f)
		}
		cfg.format = f
		return nil
	}
}

// WithKeyring gives the keys that open sealed recordings (Repair, List, Get,
// OpenWAV, and New's own). New recordings stay plain unless WithSealing.
func WithKeyring(kr seal.Keyring) Option {
	return func(cfg *config) error {
		if kr == nil {
			return fmt.Errorf("%w: nil keyring", ErrBadOption)
		}
		cfg.keyring = kr
		return nil
	}
}

// WithSealing makes New seal the recording (WAV and sidecar) at rest with a
// random data key of its own, wrapped by kr's current key (package seal);
// kr also opens sealed recordings, as WithKeyring.
func WithSealing(kr seal.Keyring) Option {
	return func(cfg *config) error {
		if err := WithKeyring(kr)(cfg); err != nil {
			return err
		}
		cfg.seal = true
		return nil
	}
}
