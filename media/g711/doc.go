// Package g711 converts between 16-bit linear PCM and the ITU-T G.711
// companded codes: mu-law (PCMU, RTP payload type 0) and A-law (PCMA,
// payload type 8).
//
// # Design
//
// Decoding is one lookup in a 256-entry table per law. Encoding is one
// lookup in a table indexed by the bits G.711 actually uses: mu-law
// quantises a 14-bit signal (16-bit input >> 2, 16K entries) and A-law a
// 13-bit one (16-bit input >> 3, 8K entries), so the tables fit in L1 cache.
// The tables are filled at start-up from the bit-level reference functions
// in this package, which follow the segment/mantissa rules of G.711 Tables
// 1a/1b and 2a/2b; the tests prove table and reference agree on all 65536
// inputs. The frame functions allocate nothing.
//
// Codes follow G.711 transmission order: mu-law codes are bit-inverted, A-law
// codes have the even bits inverted (XOR 0x55), as on the wire.
//
// # dBm0 reference
//
// G.711 defines 0 dBm0 by the digital milliwatt (Tables 5 and 6): a 1 kHz
// sine whose power is 3.17 dB (mu-law) or 3.14 dB (A-law) below a sine that
// just reaches the coder's overload point. In this package's 16-bit scale the
// mu-law overload point is 8159 << 2 = 32636, so a 0 dBm0 sine has peak
// amplitude 32636 / 10^(3.17/20) ~= 22657 ([Peak0dBm0]); A-law gives 22827,
// 0.07 dB away. Tone generators in hush's tests use Peak0dBm0 for both laws.
// The test TestDigitalMilliwatt decodes the G.711 digital milliwatt
// sequences and checks their power against this constant.
//
// Encoding goes through tables because the bit-level reference encoder
// costs several times as much per frame (BenchmarkEncodeUlaw against
// BenchmarkEncodeUlawRef); neither allocates.
package g711
