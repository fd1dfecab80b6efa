package g711

import (
	"math"
	"testing"
)

func TestTablesMatchReference(t *testing.T) {
	for i := 0; i < 256; i++ {
		b := byte(i)
		if got, want := UlawToLinear(b), UlawToLinearRef(b); got != want {
			t.Fatalf("ulaw decode %#02x: table %d, ref %d", b, got, want)
		}
		if got, want := AlawToLinear(b), AlawToLinearRef(b); got != want {
			t.Fatalf("alaw decode %#02x: table %d, ref %d", b, got, want)
		}
	}
	for i := math.MinInt16; i <= math.MaxInt16; i++ {
		x := int16(i)
		if got, want := LinearToUlaw(x), LinearToUlawRef(x); got != want {
			t.Fatalf("ulaw encode %d: table %#02x, ref %#02x", x, got, want)
		}
		if got, want := LinearToAlaw(x), LinearToAlawRef(x); got != want {
			t.Fatalf("alaw encode %d: table %#02x, ref %#02x", x, got, want)
		}
	}
}

// Known points of G.711 Tables 1a/2a (values in 16-bit scale).
func TestKnownValues(t *testing.T) {
	cases := []struct {
		name string
		got  int16
		want int16
	}{
		{"ulaw 0xFF (+0)", UlawToLinear(0xFF), 0},
		{"ulaw 0x7F (-0)", UlawToLinear(0x7F), 0},
		{"ulaw 0x80 (+max)", UlawToLinear(0x80), 32124},
		{"ulaw 0x00 (-max)", UlawToLinear(0x00), -32124},
		{"ulaw 0xFE (+1 step)", UlawToLinear(0xFE), 8},
		{"alaw 0xD5 (+min)", AlawToLinear(0xD5), 8},
		{"alaw 0x55 (-min)", AlawToLinear(0x55), -8},
		{"alaw 0xAA (+max)", AlawToLinear(0xAA), 32256},
		{"alaw 0x2A (-max)", AlawToLinear(0x2A), -32256},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, c.got, c.want)
		}
	}
	if LinearToUlaw(0) != UlawSilence || LinearToAlaw(0) != AlawSilence {
		t.Errorf("silence codes: ulaw %#02x alaw %#02x", LinearToUlaw(0), LinearToAlaw(0))
	}
	if LinearToUlaw(math.MaxInt16) != 0x80 || LinearToUlaw(math.MinInt16) != 0x00 {
		t.Errorf("ulaw clip: %#02x %#02x", LinearToUlaw(math.MaxInt16), LinearToUlaw(math.MinInt16))
	}
	if LinearToAlaw(math.MaxInt16) != 0xAA || LinearToAlaw(math.MinInt16) != 0x2A {
		t.Errorf("alaw clip: %#02x %#02x", LinearToAlaw(math.MaxInt16), LinearToAlaw(math.MinInt16))
	}
}

// Every code decodes to a value that encodes back to the same code (except
// mu-law -0, which encodes as +0).
func TestCodeRoundTrip(t *testing.T) {
	for i := 0; i < 256; i++ {
		b := byte(i)
		if got := LinearToUlaw(UlawToLinear(b)); got != b && b != 0x7F {
			t.Errorf("ulaw %#02x -> %d -> %#02x", b, UlawToLinear(b), got)
		}
		if got := LinearToAlaw(AlawToLinear(b)); got != b {
			t.Errorf("alaw %#02x -> %d -> %#02x", b, AlawToLinear(b), got)
		}
	}
}

// The quantiser is monotonic and its error stays within half a step of the
// segment the sample falls in.
func TestQuantisationError(t *testing.T) {
	prevU, prevA := int16(math.MinInt16), int16(math.MinInt16)
	for i := math.MinInt16; i <= math.MaxInt16; i++ {
		x := int16(i)
		u := UlawToLinear(LinearToUlaw(x))
		a := AlawToLinear(LinearToAlaw(x))
		if u < prevU || a < prevA {
			t.Fatalf("not monotonic at %d", x)
		}
		prevU, prevA = u, a
		ax := math.Abs(float64(x))
		if ax > 32000 {
			continue // clipping region
		}
		// Step size is at most ~1/16 of the magnitude plus the smallest step.
		if e := math.Abs(float64(u) - float64(x)); e > ax/30+8 {
			t.Fatalf("ulaw error %v at %d", e, x)
		}
		if e := math.Abs(float64(a) - float64(x)); e > ax/30+16 {
			t.Fatalf("alaw error %v at %d", e, x)
		}
	}
}

// G.711 Tables 5 and 6: the digital milliwatt sequences are a 1 kHz sine at
// 0 dBm0. Their power must match Peak0dBm0 (within 0.1 dB: A-law's
// 0 dBm0 sits 0.07 dB above mu-law's).
func TestDigitalMilliwatt(t *testing.T) {
	seqs := map[string]struct {
		codes []byte
		dec   func(byte) int16
	}{
		"ulaw": {[]byte{0x1E, 0x0B, 0x0B, 0x1E, 0x9E, 0x8B, 0x8B, 0x9E}, UlawToLinear},
		"alaw": {[]byte{0x34, 0x21, 0x21, 0x34, 0xB4, 0xA1, 0xA1, 0xB4}, AlawToLinear},
	}
	for name, s := range seqs {
		var p float64
		for _, c := range s.codes {
			v := float64(s.dec(c))
			p += v * v
		}
		p /= float64(len(s.codes))
		ref := Peak0dBm0 * Peak0dBm0 / 2
		if db := 10 * math.Log10(p/ref); math.Abs(db) > 0.1 {
			t.Errorf("%s digital milliwatt is %.3f dB from Peak0dBm0", name, db)
		}
	}
}

func TestFrameFuncs(t *testing.T) {
	src := make([]int16, 160)
	for i := range src {
		src[i] = int16(20000 * math.Sin(float64(i)*0.3))
	}
	for _, law := range []struct {
		name string
		enc  func([]byte, []int16) int
		dec  func([]int16, []byte) int
		one  func(int16) byte
		back func(byte) int16
	}{
		{"ulaw", EncodeUlaw, DecodeUlaw, LinearToUlaw, UlawToLinear},
		{"alaw", EncodeAlaw, DecodeAlaw, LinearToAlaw, AlawToLinear},
	} {
		codes := make([]byte, 200)
		if n := law.enc(codes, src); n != 160 {
			t.Fatalf("%s encode n=%d", law.name, n)
		}
		out := make([]int16, 100) // shorter than src: count is the minimum
		if n := law.dec(out, codes[:160]); n != 100 {
			t.Fatalf("%s decode n=%d", law.name, n)
		}
		for i := range out {
			if codes[i] != law.one(src[i]) || out[i] != law.back(codes[i]) {
				t.Fatalf("%s sample %d differs from single-sample funcs", law.name, i)
			}
		}
	}
}

func TestFrameFuncsAllocateNothing(t *testing.T) {
	src := make([]int16, 160)
	codes := make([]byte, 160)
	if a := testing.AllocsPerRun(100, func() {
		EncodeUlaw(codes, src)
		DecodeUlaw(src, codes)
		EncodeAlaw(codes, src)
		DecodeAlaw(src, codes)
	}); a != 0 {
		t.Fatalf("allocs per frame: %v", a)
	}
}

func frame() ([]int16, []byte) {
	src := make([]int16, 160)
	for i := range src {
		src[i] = int16(12000 * math.Sin(float64(i)*0.7))
	}
	return src, make([]byte, 160)
}

func BenchmarkEncodeUlaw(b *testing.B) {
	src, dst := frame()
	b.ReportAllocs()
	for b.Loop() {
		EncodeUlaw(dst, src)
	}
}

func BenchmarkEncodeAlaw(b *testing.B) {
	src, dst := frame()
	b.ReportAllocs()
	for b.Loop() {
		EncodeAlaw(dst, src)
	}
}

// BenchmarkEncodeUlawRef is the bit-math alternative to the table, per frame.
func BenchmarkEncodeUlawRef(b *testing.B) {
	src, dst := frame()
	b.ReportAllocs()
	for b.Loop() {
		for i, x := range src {
			dst[i] = LinearToUlawRef(x)
		}
	}
}

func BenchmarkDecodeUlaw(b *testing.B) {
	src, codes := frame()
	EncodeUlaw(codes, src)
	b.ReportAllocs()
	for b.Loop() {
		DecodeUlaw(src, codes)
	}
}

func BenchmarkDecodeAlaw(b *testing.B) {
	src, codes := frame()
	EncodeAlaw(codes, src)
	b.ReportAllocs()
	for b.Loop() {
		DecodeAlaw(src, codes)
	}
}

func TestLawDecode(t *testing.T) {
	src := []byte{0x00, 0x7F, 0x80, 0xD5, 0xFF}
	for _, tc := range []struct {
		l   Law
		one func(byte) int16
	}{{Ulaw, UlawToLinear}, {Alaw, AlawToLinear}} {
		dst := make([]int16, len(src))
		if n := tc.l.Decode(dst, src); n != len(src) {
			t.Fatalf("%v: decoded %d of %d", tc.l, n, len(src))
		}
		for i, c := range src {
			if dst[i] != tc.one(c) {
				t.Errorf("%v: code %#x decoded %d, want %d", tc.l, c, dst[i], tc.one(c))
			}
		}
	}
	if n := Law(0).Decode(make([]int16, 4), src); n != 0 {
		t.Errorf("Law(0) decoded %d samples", n)
	}
	if n := Law(9).Decode(make([]int16, 4), src); n != 0 {
		t.Errorf("Law(9) decoded %d samples", n)
	}
}
