package g711

import "math/bits"

// Peak0dBm0 is the peak amplitude, in 16-bit linear PCM, of a sine at
// 0 dBm0 (the G.711 digital milliwatt level): the mu-law overload amplitude
// 32636 lowered by 3.17 dB (ITU-T G.711 §3 and Table 5).
const Peak0dBm0 = 22657.0

// Silence codes: the codes of linear 0.
const (
	UlawSilence byte = 0xFF
	AlawSilence byte = 0xD5
)

// G.711 Table 2a: mu-law adds a bias of 33 (14-bit scale) so that every
// segment starts at a power of two; the overload point is 8159.
const (
	ulawBias = 33
	ulawClip = 8159 - ulawBias
)

var (
	ulawDecTable = buildDecode(UlawToLinearRef)
	alawDecTable = buildDecode(AlawToLinearRef)
	ulawEncTable = buildUlawEncode()
	alawEncTable = buildAlawEncode()
)

func buildDecode(f func(byte) int16) *[256]int16 {
	var t [256]int16
	for i := range t {
		t[i] = f(byte(i))
	}
	return &t
}

func buildUlawEncode() *[1 << 14]byte {
	var t [1 << 14]byte
	for i := range t {
		// Index i holds the top 14 bits of the 16-bit sample.
		t[i] = LinearToUlawRef(int16(uint16(i) << 2))
	}
	return &t
}

func buildAlawEncode() *[1 << 13]byte {
	var t [1 << 13]byte
	for i := range t {
		t[i] = LinearToAlawRef(int16(uint16(i) << 3))
	}
	return &t
}

// UlawToLinear decodes one mu-law code.
func UlawToLinear(u byte) int16 { return ulawDecTable[u] }

// AlawToLinear decodes one A-law code.
func AlawToLinear(a byte) int16 { return alawDecTable[a] }

// LinearToUlaw encodes one sample to mu-law.
func LinearToUlaw(x int16) byte { return ulawEncTable[uint16(x)>>2] }

// LinearToAlaw encodes one sample to A-law.
func LinearToAlaw(x int16) byte { return alawEncTable[uint16(x)>>3] }

// DecodeUlaw decodes min(len(dst), len(src)) mu-law codes into dst and
// returns that count.
func DecodeUlaw(dst []int16, src []byte) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	t := ulawDecTable
	for i, u := range src {
		dst[i] = t[u]
	}
	return n
}

// DecodeAlaw decodes min(len(dst), len(src)) A-law codes into dst and
// returns that count.
func DecodeAlaw(dst []int16, src []byte) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	t := alawDecTable
	for i, a := range src {
		dst[i] = t[a]
	}
	return n
}

// EncodeUlaw encodes min(len(dst), len(src)) samples to mu-law and returns
// that count.
func EncodeUlaw(dst []byte, src []int16) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	t := ulawEncTable
	for i, x := range src {
		dst[i] = t[uint16(x)>>2]
	}
	return n
}

// EncodeAlaw encodes min(len(dst), len(src)) samples to A-law and returns
// that count.
func EncodeAlaw(dst []byte, src []int16) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	t := alawEncTable
	for i, x := range src {
		dst[i] = t[uint16(x)>>3]
	}
	return n
}

// UlawToLinearRef decodes one mu-law code with the bit-level rules of G.711
// Table 2a (the tables are built from it). The result is the decision-level
// midpoint in 16-bit scale: 14-bit value << 2.
func UlawToLinearRef(u byte) int16 {
	u = ^u // transmitted codes are inverted
	seg := (u >> 4) & 7
	mant := int32(u & 0x0F)
	// Segment s spans [(33 << s) - 33, (33 << (s+1)) - 33) in 14-bit scale
	// with step 2 << s; the output is the middle of the step.
	mag := ((2*mant+ulawBias)<<seg - ulawBias) << 2
	if u&0x80 != 0 {
		return int16(-mag)
	}
	return int16(mag)
}

// LinearToUlawRef encodes one sample with the bit-level rules of G.711
// Table 2a.
func LinearToUlawRef(x int16) byte {
	v := int32(x) >> 2 // 14-bit
	mask := byte(0xFF)
	if v < 0 {
		v = -v
		mask = 0x7F
	}
	if v > ulawClip {
		v = ulawClip
	}
	v += ulawBias // now in [33, 8159]: segment = position of the top bit - 5
	seg := bits.Len32(uint32(v)) - 6
	mant := byte(v>>(seg+1)) & 0x0F
	return (byte(seg)<<4 | mant) ^ mask
}

// AlawToLinearRef decodes one A-law code with the bit-level rules of G.711
// Table 1a. The result is in 16-bit scale: 13-bit value << 3.
func AlawToLinearRef(a byte) int16 {
	a ^= 0x55 // even bits are inverted on the wire
	seg := (a >> 4) & 7
	mant := int32(a & 0x0F)
	// 13-bit scale: segment 0 is linear with step 2; segment s >= 1 starts
	// at 16 << s with step 1 << s. Output is the middle of the step.
	var mag int32
	if seg == 0 {
		mag = 2*mant + 1
	} else {
		mag = (2*mant + 33) << (seg - 1)
	}
	mag <<= 3
	if a&0x80 != 0 {
		return int16(mag)
	}
	return int16(-mag)
}

// LinearToAlawRef encodes one sample with the bit-level rules of G.711
// Table 1a.
func LinearToAlawRef(x int16) byte {
	v := int32(x) >> 3 // 13-bit
	sign := byte(0x80)
	if v < 0 {
		// A-law is symmetric about -1/2: -1 maps onto +0's magnitude.
		v = -v - 1
		sign = 0
	}
	if v > 4095 {
		v = 4095
	}
	var code byte
	if v < 32 {
		code = byte(v >> 1) // segment 0, step 2
	} else {
		seg := bits.Len32(uint32(v)) - 5 // 32..63 -> 1, ..., 2048..4095 -> 7
		code = byte(seg)<<4 | byte(v>>seg)&0x0F
	}
	return (sign | code) ^ 0x55
}

// Law is a G.711 companding law, for code that carries G.711 bytes and
// decodes them later (the recording path).
type Law uint8

// Laws. The zero Law is none: not G.711.
const (
	Ulaw Law = 1 // mu-law, RTP PCMU
	Alaw Law = 2 // A-law, RTP PCMA
)

// Decode decodes min(len(dst), len(src)) codes of law l into dst and
// returns that count; a Law that is neither decodes nothing.
func (l Law) Decode(dst []int16, src []byte) int {
	switch l {
	case Ulaw:
		return DecodeUlaw(dst, src)
	case Alaw:
		return DecodeAlaw(dst, src)
	}
	return 0
}

func (l Law) String() string {
	switch l {
	case Ulaw:
		return "mu-law"
	case Alaw:
		return "A-law"
	}
	return "not G.711"
}
