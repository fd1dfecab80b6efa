package dtmf

import (
	"fmt"
	"io"
)

// TelephoneEventSize is the size of one RFC 4733 §2.3 event payload.
const TelephoneEventSize = 4

// MaxVolume is the largest encodable volume (-63 dBm0), RFC 4733 §2.3.4.
const MaxVolume = 63

// TelephoneEvent is one RFC 4733 telephone-event payload (§2.3):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     event     |E|R| volume    |          duration             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type TelephoneEvent struct {
	Event    uint8  // event code; 0-15 are the DTMF digits (§3.2)
	End      bool   // E bit: this packet ends the event (§2.3.2)
	Volume   uint8  // power level in -dBm0, 0-63 (§2.3.4)
	Duration uint16 // in RTP timestamp units since the event's timestamp (§2.3.5)
}

// RFC 4733 §3.2 Table 3: event codes 0-15 and the keys they name.
var eventToDigit = [16]byte{
	'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D',
}

// digitToEvent inverts eventToDigit; 0xFF marks "not a digit".
var digitToEvent = func() (t [256]uint8) {
	for i := range t {
		t[i] = 0xFF
	}
	for e, d := range eventToDigit {
		t[d] = uint8(e)
		if d >= 'A' && d <= 'D' {
			t[d-'A'+'a'] = uint8(e)
		}
	}
	return t
}()

// EventDigit returns the key for a DTMF event code (0-15), or ok=false for
// any other event (passed on as unknown).
func EventDigit(event uint8) (digit byte, ok bool) {
	if event < 16 {
		return eventToDigit[event], true
	}
	return 0, false
}

// DigitEvent returns the RFC 4733 event code of a key ('0'-'9', '*', '#',
// 'A'-'D', lower case accepted).
func DigitEvent(digit byte) (uint8, error) {
	e := digitToEvent[digit]
	if e == 0xFF {
		return 0, fmt.Errorf("%w: %q", ErrNotDigit, digit)
	}
	return e, nil
}

// Digit returns the event's key, or ok=false for a non-DTMF event.
func (e *TelephoneEvent) Digit() (byte, bool) { return EventDigit(e.Event) }

// Unmarshal parses a payload. Bytes beyond the first event are ignored:
// several events in one packet need RFC 2198 redundancy, which carries them
// under a different payload type. The R bit is ignored as §2.3.3 requires.
func (e *TelephoneEvent) Unmarshal(payload []byte) error {
	if len(payload) < TelephoneEventSize {
		// Bare: a wrapped error would allocate on every bad packet a sender chooses to send.
		return ErrShortPayload
	}
	e.Event = payload[0]
	e.End = payload[1]&0x80 != 0
	e.Volume = payload[1] & 0x3F
	e.Duration = uint16(payload[2])<<8 | uint16(payload[3])
	return nil
}

// MarshalSize returns the encoded size: always TelephoneEventSize.
func (e *TelephoneEvent) MarshalSize() int { return TelephoneEventSize }

// MarshalTo encodes the event into buf and returns the bytes written. It
// returns io.ErrShortBuffer when buf is too small and ErrVolumeRange when
// Volume does not fit 6 bits. The R bit is sent as zero (§2.3.3).
func (e *TelephoneEvent) MarshalTo(buf []byte) (int, error) {
	if len(buf) < TelephoneEventSize {
		return 0, io.ErrShortBuffer
	}
	if e.Volume > MaxVolume {
		return 0, fmt.Errorf("%w: %d", ErrVolumeRange, e.Volume)
	}
	b1 := e.Volume
	if e.End {
		b1 |= 0x80
	}
	buf[0] = e.Event
	buf[1] = b1
	buf[2] = byte(e.Duration >> 8)
	buf[3] = byte(e.Duration)
	return TelephoneEventSize, nil
}

// Marshal is the allocating convenience around MarshalTo.
func (e *TelephoneEvent) Marshal() ([]byte, error) {
	buf := make([]byte, TelephoneEventSize)
	n, err := e.MarshalTo(buf)
	return buf[:n], err
}
