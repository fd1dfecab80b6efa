package mask

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/rtp"
)

func TestParseMode(t *testing.T) {
	for _, m := range []Mode{ModeOff, ModeSilence, ModeComfortNoise, ModeTone} {
		got, err := ParseMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m.String(), got, err)
		}
	}
	for _, ok := range []string{" Tone ", "COMFORT_NOISE", "cn", "none"} {
		if _, err := ParseMode(ok); err != nil {
			t.Errorf("ParseMode(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "drop", "mute", "tone\x00", "silencio", strings.Repeat("x", 1000)} {
		if _, err := ParseMode(bad); !errors.Is(err, ErrMode) {
			t.Errorf("ParseMode(%q): %v, want ErrMode", bad, err)
		}
	}
	if s := Mode(9).String(); s != "mode(9)" {
		t.Error(s)
	}
}

func TestParseCodec(t *testing.T) {
	for name, want := range map[string]Codec{
		"PCMU": CodecPCMU, "pcmu/8000": CodecPCMU, "PCMA/8000/1": CodecPCMA, "CN": CodecCN,
		"telephone-event/8000": CodecTelephoneEvent, "G729": CodecUnknown, "opus/48000/2": CodecUnknown,
	} {
		got, err := ParseCodec(name)
		if err != nil || got != want {
			t.Errorf("ParseCodec(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	for _, bad := range []string{"", " ", "/8000"} {
		if _, err := ParseCodec(bad); !errors.Is(err, ErrCodec) {
			t.Errorf("ParseCodec(%q): %v, want ErrCodec", bad, err)
		}
	}
	var m CodecMap
	if !m.IsZero() {
		t.Fatal("zero map not IsZero")
	}
	for _, pt := range []int{-1, 128, 1000} {
		if err := m.Set(pt, "PCMU"); !errors.Is(err, ErrCodec) {
			t.Errorf("Set(%d): %v", pt, err)
		}
	}
	if err := m.Set(96, ""); !errors.Is(err, ErrCodec) {
		t.Errorf("Set empty name: %v", err)
	}
	if err := m.Set(101, "telephone-event"); err != nil || m.Lookup(101) != CodecTelephoneEvent || m.Lookup(101|0x80) != CodecTelephoneEvent {
		t.Fatal("Set/Lookup")
	}
	d := DefaultCodecs()
	if d.Lookup(0) != CodecPCMU || d.Lookup(8) != CodecPCMA || d.Lookup(13) != CodecCN || d.Lookup(18) != CodecUnknown {
		t.Fatal("DefaultCodecs")
	}
}

func TestPolicyValidate(t *testing.T) {
	good := []Policy{{}, {Mode: ModeTone}, {Mode: ModeSilence, LookAhead: MinLookAhead}, {Mode: ModeTone, ToneHz: 2000},
		{Capture: true}, {Mode: ModeComfortNoise, LookAhead: MaxLookAhead}, {ToneHz: 600}}
	for _, p := range good {
		if err := p.Validate(); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
	bad := []struct {
		p    Policy
		want error
	}{
		{Policy{Mode: numModes}, ErrMode},
		{Policy{Mode: ModeTone, LookAhead: time.Millisecond}, ErrLookAhead},
		{Policy{Mode: ModeTone, LookAhead: -time.Second}, ErrLookAhead},
		{Policy{Mode: ModeTone, LookAhead: time.Second}, ErrLookAhead},
		{Policy{Mode: ModeTone, ToneHz: 697}, ErrToneFrequency},
		{Policy{Mode: ModeTone, ToneHz: 1250}, ErrToneFrequency}, // 3.4 % from 1209
		{Policy{Mode: ModeTone, ToneHz: 1700}, ErrToneFrequency}, // 4.1 % from 1633
		{Policy{Mode: ModeTone, ToneHz: 50}, ErrToneFrequency},
		{Policy{Mode: ModeTone, ToneHz: 4000}, ErrToneFrequency},
		{Policy{Mode: ModeTone, ToneHz: -400}, ErrToneFrequency},
	}
	for _, c := range bad {
		if err := c.p.Validate(); !errors.Is(err, c.want) {
			t.Errorf("%+v: %v, want %v", c.p, err, c.want)
		}
	}
	if (Policy{}).Masked() || !(Policy{Capture: true}).Masked() || !(Policy{Mode: ModeSilence}).Masked() {
		t.Fatal("Masked")
	}
	if s := (Policy{Capture: true}).String(); !strings.Contains(s, "capture") || !strings.Contains(s, "tone=400Hz") {
		t.Fatal(s)
	}
	if DefaultLookAhead != 60*time.Millisecond {
		t.Logf("DefaultLookAhead is %v with MaskLag changed", DefaultLookAhead)
	}
}

func TestDigitStringHidesDigit(t *testing.T) {
	d := Digit{Digit: '9', Source: SourceRFC4733, RTPTimestamp: 5}
	if s := d.String(); strings.Contains(s, "9") {
		t.Fatalf("String shows the digit: %q", s)
	}
	for _, s := range []Source{SourceInBand, SourceRFC4733, 0} {
		_ = s.String()
	}
}

func FuzzParseMode(f *testing.F) {
	for _, s := range []string{"off", "tone", "comfort-noise", "", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMode(s)
		if err != nil {
			if !errors.Is(err, ErrMode) {
				t.Fatal(err)
			}
			return
		}
		if back, err := ParseMode(m.String()); err != nil || back != m {
			t.Fatalf("round trip %q -> %v", s, m)
		}
	})
}

func FuzzParseCodec(f *testing.F) {
	for _, s := range []string{"PCMU/8000", "telephone-event/8000", "", "/", "x/y/z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCodec(s)
		if err != nil {
			if !errors.Is(err, ErrCodec) {
				t.Fatal(err)
			}
			return
		}
		if c >= numCodecs {
			t.Fatalf("%q -> %v", s, c)
		}
	})
}

// FuzzPush: arbitrary datagrams (RTP header valid, anything after it) and
// arrival times never panic, and every queued packet leaves intact in
// length.
func FuzzPush(f *testing.F) {
	s := &stream{pt: 0, ssrc: 1, codec: CodecPCMU}
	f.Add(s.packet(make([]int16, 160), true), uint16(20))
	f.Add(event(101, 1, 1, 0, true, 5, false, 160), uint16(0))
	f.Add(event(101, 1, 2, 0, false, 5, true, 800)[:13], uint16(5))
	codecs := DefaultCodecs()
	codecs.Set(101, "telephone-event")
	f.Fuzz(func(t *testing.T, pkt []byte, dt uint16) {
		k := New()
		k.Configure(Policy{Mode: ModeTone, Capture: true}, &codecs)
		var h rtp.Header
		if _, err := h.Unmarshal(pkt); err != nil {
			return
		}
		now := time.Duration(0)
		for range 3 {
			v := k.Push(&h, pkt, now)
			if v == Queued && k.Len() == 0 {
				t.Fatal("queued but empty")
			}
			now += time.Duration(dt) * time.Millisecond
			for {
				out, ok := k.Pop(now + time.Hour)
				if !ok {
					break
				}
				if len(out) != len(pkt) {
					t.Fatalf("length %d -> %d", len(pkt), len(out))
				}
			}
		}
	})
}
