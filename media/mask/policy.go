package mask

import (
	"fmt"
	"strings"
	"time"

	"github.com/hushmedia/hush/media/dtmf"
)

// Mode says what replaces DTMF toward the listener of a masked direction.
// Its zero value, ModeUnset, is a mode nobody chose: a caller with a
// default (hush's session registry masks toward the agent by default)
// fills it in; the masker takes it as ModeOff.
type Mode uint8

const (
	// ModeUnset: no mode chosen; masks nothing, like ModeOff.
	ModeUnset Mode = iota
	// ModeOff: the direction is not masked (unless Policy.Capture).
	ModeOff
	// ModeSilence: masked samples become digital silence.
	ModeSilence
	// ModeComfortNoise: masked samples become low-level white noise
	// (about -60 dBm0), so the line does not sound dead.
	ModeComfortNoise
	// ModeTone: masked samples become one flat tone (Policy.ToneHz at
	// ToneLevel), so the listener hears that a key was pressed, not which.
	ModeTone
	numModes
)

var modeNames = [numModes]string{"off", "off", "silence", "comfort-noise", "tone"}

func (m Mode) String() string {
	if m < numModes {
		return modeNames[m]
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// ParseMode parses a mode name as String writes it (case-insensitive;
// "comfort_noise" and "cn" accepted).
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "off", "none":
		return ModeOff, nil
	case "silence":
		return ModeSilence, nil
	case "comfort-noise", "comfort_noise", "cn":
		return ModeComfortNoise, nil
	case "tone":
		return ModeTone, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrMode, s)
}

const sampleDur = time.Second / 8000

// Look-ahead limits and default. The delay line must hold a sample until
// the detector has decided about it: dtmf.LookAhead(160) samples for 20 ms
// packets (MaskLag 260 + 159 = 419 samples, 52.4 ms). The default rounds
// that up to whole 20 ms packets, so the added delay is three packet times.
const (
	// DefaultLookAhead is 60 ms with the detector's current MaskLag.
	DefaultLookAhead = (time.Duration(dtmf.MaskLag+159)*sampleDur + 20*time.Millisecond - 1) /
		(20 * time.Millisecond) * (20 * time.Millisecond)
	// MinLookAhead: below this a tone's first samples can leave before the
	// detector opens its mask (LateMasks counts them). Policies may ask for
	// less than DefaultLookAhead down to this floor, trading a little leak
	// risk on 20 ms packets for delay.
	MinLookAhead = 20 * time.Millisecond
	// MaxLookAhead bounds the queue: Slots packets of 10 ms must cover it.
	MaxLookAhead = 200 * time.Millisecond
)

// Masking tone limits. ToneLevel is far below DTMF and a single tone is
// never a DTMF pair; ToneHz must also stay clear of every DTMF frequency by
// more than toneClearance so no single-frequency detector fires on it.
const (
	DefaultToneHz = 400
	MinToneHz     = 100
	MaxToneHz     = 3400
	// ToneLevel is the masking tone's level in dBm0.
	ToneLevel     = -20
	toneClearance = 0.05
)

// dtmfFreqs are the ITU-T Q.23 DTMF frequencies.
var dtmfFreqs = [8]float64{697, 770, 852, 941, 1209, 1336, 1477, 1633}

// Policy is the masking policy of one direction. The zero value is "off".
// Treat it as immutable once published: the relay stores a pointer to it
// and the packet loop reads it without a lock.
type Policy struct {
	// Mode is what the listener hears instead of DTMF.
	Mode Mode
	// LookAhead is the delay line length L; 0 means DefaultLookAhead.
	LookAhead time.Duration
	// ToneHz is the ModeTone frequency; 0 means DefaultToneHz.
	ToneHz int
	// Capture is secure capture: the direction is masked even with Mode
	// off (then with ModeTone), and digits (in-band and RFC 4733) are
	// delivered to the digit callback.
	Capture bool
	// Keys delivers the direction's key presses to the digit callback without masking
	// anything by itself: keypad triggers typed on the agent's phone (never for the
	// customer's side outside capture: those would be card digits).
	Keys bool
}

// Masked reports whether the direction runs through the delay line.
func (p Policy) Masked() bool { return p.Mode > ModeOff || p.Capture }

// Effective returns p with defaults filled in: LookAhead, ToneHz, and
// ModeTone for capture with Mode off.
func (p Policy) Effective() Policy {
	if p.LookAhead == 0 {
		p.LookAhead = DefaultLookAhead
	}
	if p.ToneHz == 0 {
		p.ToneHz = DefaultToneHz
	}
	if p.Mode <= ModeOff && p.Capture {
		p.Mode = ModeTone
	}
	return p
}

// Validate checks the policy's values (zero fields take defaults).
func (p Policy) Validate() error {
	if p.Mode >= numModes {
		return fmt.Errorf("%w: %d", ErrMode, p.Mode)
	}
	if p.LookAhead != 0 && (p.LookAhead < MinLookAhead || p.LookAhead > MaxLookAhead) {
		return fmt.Errorf("%w: %v (want %v to %v)", ErrLookAhead, p.LookAhead, MinLookAhead, MaxLookAhead)
	}
	if p.ToneHz != 0 {
		return CheckToneHz(p.ToneHz)
	}
	return nil
}

// CheckToneHz reports whether f may be used as the masking tone: inside
// [MinToneHz, MaxToneHz] and more than 5 % away from every DTMF frequency.
func CheckToneHz(f int) error {
	if f < MinToneHz || f > MaxToneHz {
		return fmt.Errorf("%w: %d Hz (want %d to %d)", ErrToneFrequency, f, MinToneHz, MaxToneHz)
	}
	for _, d := range dtmfFreqs {
		if r := float64(f)/d - 1; r > -toneClearance && r < toneClearance {
			return fmt.Errorf("%w: %d Hz is within 5%% of the DTMF frequency %g Hz", ErrToneFrequency, f, d)
		}
	}
	return nil
}

// String shows the policy for logs.
func (p Policy) String() string {
	e := p.Effective()
	s := fmt.Sprintf("mode=%v lookahead=%v", p.Mode, e.LookAhead)
	if e.Mode == ModeTone {
		s += fmt.Sprintf(" tone=%dHz", e.ToneHz)
	}
	if p.Capture {
		s += " capture"
	}
	return s
}
