package dtmf

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestTelephoneEventUnmarshal(t *testing.T) {
	cases := []struct {
		name    string
		in      []byte
		want    TelephoneEvent
		wantErr error
	}{
		{"digit 5 start", []byte{5, 10, 0x00, 0xA0}, TelephoneEvent{Event: 5, Volume: 10, Duration: 160}, nil},
		{"end bit", []byte{11, 0x80 | 7, 0x03, 0x20}, TelephoneEvent{Event: 11, End: true, Volume: 7, Duration: 800}, nil},
		{"R bit ignored", []byte{1, 0x40 | 3, 0, 1}, TelephoneEvent{Event: 1, Volume: 3, Duration: 1}, nil},
		{"max fields", []byte{255, 0xFF, 0xFF, 0xFF}, TelephoneEvent{Event: 255, End: true, Volume: 63, Duration: 65535}, nil},
		{"trailing bytes ignored", []byte{2, 0, 0, 80, 9, 9}, TelephoneEvent{Event: 2, Duration: 80}, nil},
		{"empty", nil, TelephoneEvent{}, ErrShortPayload},
		{"one byte", []byte{1}, TelephoneEvent{}, ErrShortPayload},
		{"three bytes", []byte{1, 2, 3}, TelephoneEvent{}, ErrShortPayload},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var e TelephoneEvent
			err := e.Unmarshal(c.in)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
			if err == nil && e != c.want {
				t.Fatalf("got %+v, want %+v", e, c.want)
			}
		})
	}
}

func TestTelephoneEventMarshal(t *testing.T) {
	e := TelephoneEvent{Event: 11, End: true, Volume: 7, Duration: 800}
	if e.MarshalSize() != 4 {
		t.Fatalf("MarshalSize = %d", e.MarshalSize())
	}
	buf := make([]byte, 8)
	n, err := e.MarshalTo(buf)
	if err != nil || n != 4 || !bytes.Equal(buf[:4], []byte{11, 0x87, 0x03, 0x20}) {
		t.Fatalf("MarshalTo = %d %v % x", n, err, buf[:n])
	}
	if _, err := e.MarshalTo(buf[:3]); !errors.Is(err, io.ErrShortBuffer) {
		t.Fatalf("short buffer err = %v", err)
	}
	bad := TelephoneEvent{Volume: 64}
	if _, err := bad.MarshalTo(buf); !errors.Is(err, ErrVolumeRange) {
		t.Fatalf("volume err = %v", err)
	}
	b, err := e.Marshal()
	var back TelephoneEvent
	if err != nil || back.Unmarshal(b) != nil || back != e {
		t.Fatalf("Marshal round trip: %v %+v", err, back)
	}
}

func TestDigitMapping(t *testing.T) {
	const keys = "0123456789*#ABCD"
	for i := 0; i < 16; i++ {
		d, ok := EventDigit(uint8(i))
		if !ok || d != keys[i] {
			t.Errorf("EventDigit(%d) = %q %v", i, d, ok)
		}
		e, err := DigitEvent(keys[i])
		if err != nil || e != uint8(i) {
			t.Errorf("DigitEvent(%q) = %d %v", keys[i], e, err)
		}
	}
	if e, err := DigitEvent('c'); err != nil || e != 14 {
		t.Errorf("lower case: %d %v", e, err)
	}
	for _, b := range []byte{'E', 'x', 0, ' ', 0xFF} {
		if _, err := DigitEvent(b); !errors.Is(err, ErrNotDigit) {
			t.Errorf("DigitEvent(%q) err = %v", b, err)
		}
	}
	if _, ok := EventDigit(16); ok {
		t.Error("event 16 is not a digit")
	}
}

func FuzzTelephoneEvent(f *testing.F) {
	f.Add([]byte{5, 10, 0, 160})
	f.Add([]byte{11, 0x87, 3, 32})
	f.Add([]byte{1, 2})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var e TelephoneEvent
		if err := e.Unmarshal(data); err != nil {
			if !errors.Is(err, ErrShortPayload) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		buf := make([]byte, 4)
		if _, err := e.MarshalTo(buf); err != nil {
			t.Fatalf("re-marshal: %v", err)
		}
		// Everything but the R bit survives.
		want := []byte{data[0], data[1] &^ 0x40, data[2], data[3]}
		if !bytes.Equal(buf, want) {
			t.Fatalf("round trip % x -> % x", data[:4], buf)
		}
	})
}

func BenchmarkTelephoneEventUnmarshal(b *testing.B) {
	p := []byte{5, 0x8A, 0x03, 0x20}
	var e TelephoneEvent
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Unmarshal(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEventTrackerPush(b *testing.B) {
	tr := NewEventTracker(0)
	p := []byte{5, 0x0A, 0, 0}
	spans := make([]Span, 0, 4)
	var ts uint32
	var seq uint16
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		// A 10-packet event, then the next one.
		if i%10 == 0 {
			ts += 8000
		}
		d := uint16(i%10+1) * 160
		p[2], p[3] = byte(d>>8), byte(d)
		seq++
		spans, _ = tr.Push(spans[:0], ts, i%10 == 0, seq, p)
		i++
	}
}
