// Package dtmf finds DTMF digits in telephone audio and in RFC 4733
// telephone-event packets. It is a pure library: no I/O, no goroutines, no
// allocation per frame or packet.
//
// # The detector
//
// [Detector] takes 8 kHz 16-bit linear PCM in frames of any length (the
// packet loop feeds 20 ms = 160 samples; 10 and 30 ms, or single samples,
// give the same events at the same positions) and reports [Event]s at
// sample positions on its own timeline: Pos counts samples fed since
// [NewDetector] or [Detector.Reset], including those [Detector.Skip]s over
// for lost packets. The caller maps positions to RTP timestamps.
//
// Three outputs:
//   - MaskStart/MaskEnd: a sensitive signal for the masker to replace the
//     audio. MaskStart.Pos is at or before the tone's first sample,
//     MaskEnd.Pos at or after its last (exclusive); intervals never
//     overlap. It reacts to tones down to -36 dBm0 per tone and to
//     fragments of 20 ms.
//   - NotchStart/NotchEnd: weaker evidence, a key under loud speech or
//     music or what looks like one: remove the bands of the frequencies in
//     Tones (the four high ones, and the low ones seen) until NotchEnd. It
//     reaches back up to [NotchLag].
//   - DigitStart/DigitEnd: ITU-T Q.24-grade digits with the key in Digit.
//     A digit is always inside an open mask and notch. Digit and Tones are
//     card data: never log them ([Event.String] leaves them out).
//
// # Design
//
// Eight Goertzel filters (the Q.23 frequencies) run over 40-sample
// sub-blocks (5 ms). Every sub-block closes an analysis window of the last
// three (120 samples, 15 ms): the sub-blocks' complex DFTs, rotated to the
// window's phase reference, add up to the window's exact DFT, so the hop
// costs nothing extra. A 120-sample rectangular window puts neighbouring
// DTMF frequencies (>= 73 Hz apart) past its first null (66.7 Hz).
//
// Per window: the strongest low and high bins are the candidate pair;
// cheap checks on the rectangular bins (level, each bin above the rest of
// its group) discard most speech. Survivors get a Hann-windowed DFT of the
// window and of the one a sub-block earlier for the two tones; the phase
// advance between them measures each tone's frequency offset (this is what
// separates +-1.8 % from +-3.5 %, which the bins' magnitudes alone cannot at
// 697 Hz), and the Hann power corrected for that offset gives the tones'
// levels, twist and share of the window's energy.
//
// Digits use the Q.24 limits: each tone >= -31 dBm0, twist -11..+7 dB,
// each bin 5 dB above the rest of its group, 80 % of the window's energy,
// offset <= 2.7 %. A digit needs six windows of one pair (a tone of about
// 30 ms: a 40 ms tone gives seven, a 20 ms one at most four), bridging runs
// of fewer than seven misses (a 10 ms break makes at most five, a 40 ms gap
// at least eight); a hit of another pair counts as a miss.
//
// The mask measures its evidence against the pair's neighbourhood rather
// than the window's total energy, so a key over speech or music is seen:
// each tone leads its group by 3 dB and both by 16 dB together, -43 dBm0,
// twist -14..+10 dB, offset <= 2.5 %, no harmonic at twice the high tone
// above -16 dB and, unless the pair fills the window, no harmonic series
// (a fundamental below the low tone, or a partial at the pair's
// difference). It opens on two clean windows (a digit-like share of the
// energy), two strong ones at steady frequencies or seven weak ones, and
// holds while hits keep the frequencies it opened with. The notch takes
// weaker evidence: a steady pair, or a high tone alone holding its
// frequency while speech swamps the low one. docs/MASKING.md has the rules
// and the figures over speech and music.
//
// Positions come from sub-block energies: the first sub-block, from two
// before the first passing window, whose energy reaches a tenth of the
// window's fullest sub-block holds at least a quarter of a sub-block of
// tone, so MaskStart.Pos = its start - 20 samples is at or before the onset
// with room for noise; the end is found the same way backwards and never
// past the end of the first window that missed. Neighbouring speech or
// noise only moves the positions outward.
//
// # dBm0 reference
//
// Levels are per tone, with 0 dBm0 the G.711 sine of peak amplitude
// [g711.Peak0dBm0] (22657 in 16-bit linear: the mu-law overload point less
// 3.17 dB, checked against the G.711 digital milliwatt). The tests
// generate every tone themselves at that reference and pass it through
// mu-law and A-law round trips.
//
// # Look-ahead for the masker
//
// A MaskStart is returned no later than the Process call that feeds sample
// Pos+[MaskLag]-1 (MaskLag = 260 samples, 32.5 ms). A masker feeding
// frames of F samples needs [LookAhead](F) = MaskLag+F-1 samples of delay
// to mask every tone from its first sample: 419 samples (52.4 ms) for
// 20 ms frames; 339 for 10 ms, 499 for 30 ms.
//
// Measured onset-to-MaskStart delay (tone onset to the return of the
// Process call that reports it; all 16 keys, every onset phase of the
// frame, both laws, -10/-25/-36 dBm0; TestMaskDelay):
//
//	frame 160 (20 ms)  p50 23.8 ms  p99 33.5 ms  max 33.8 ms
//	frame  80 (10 ms)  p50 18.6 ms  p99 23.6 ms  max 23.8 ms
//	frame 240 (30 ms)  p50 28.8 ms  p99 43.4 ms  max 43.9 ms
//
// The mask starts p50 4.4 ms, at most 7.2 ms, before the onset and ends at
// most 7.4 ms after the tone on clean tones (up to ~19 ms with a dial tone
// or 12 dB SNR noise around it, which only widens it).
//
// # Measured against the bar
//
// All through mu-law and A-law, all 16 keys, all 160 onset phases of a 20 ms
// frame (TestQ24Detect, TestQ24Noise, TestQ24Reject, TestMaskSensitivity,
// TestQ24FullMatrix): 100 % detected and masked for levels 0 to -25 dBm0;
// offsets +-1.5 % and +-1.8 % on either or both tones; twist -8 and +4 dB
// at both ends of the level range and combined with +-1.8 %; 40 ms tones;
// 1000/1000 bursts of 40 ms at 15 dB SNR (white noise over 0-4 kHz against
// both tones); a 350+440 Hz dial tone 10 dB below. 0 digits for offsets of
// +-3.6, 4.2 and 5 %, for 10 and 20 ms tones at 0, -10 and -25 dBm0; two
// digits across a 40 ms gap, one across a 10 ms break. The mask covers
// -30 to -36 dBm0 tones and 20 ms fragments from 0 to -36 dBm0.
// Margins found by sweeping: digits accepted to +-2.5 % and rejected from
// +-3.0 %; tones of <= 25 ms never digits, >= 35 ms always; gaps <= 25 ms
// bridged, >= 35 ms split; digits down to -30 dBm0;
// 5000/5000 at 15 dB SNR; 1000/1000 at 12 dB.
//
// Talk-off (TestTalkOff, TestFalseMasks: the prompts and the music on hold
// of media/corpus, through each law): 0 digits; masked and notched time in
// docs/MASKING.md.
//
// The detector allocates nothing; its cost (BenchmarkDetector,
// BenchmarkDetectorSources) is in docs/PERFORMANCE.md. TestDecisionDigest
// holds every event over a broad input set to a golden digest
// (testdata/decisions.digest), with the AVX2 filters and with the portable
// ones: work on its speed changes no decision.
//
// # RFC 4733 telephone-events
//
// [TelephoneEvent] is the 4-byte payload of RFC 4733 §2.3 with
// Unmarshal/MarshalTo/MarshalSize in the pion style. [EventTracker] is the
// receiver state machine of §2.5.2: it turns a stream of event packets into
// [Span]s on the RTP timestamp timeline, reporting each event once as New,
// then as its duration grows, then once as Ended. A new event is recognised
// by a new timestamp (or a marker on a reused one); the three retransmitted
// end packets and reordered or late packets are ignored (counted by Stale);
// a lost end is closed by [EventTracker.Advance] once the audio timeline is
// a timeout past the event's last known end; long events split into 16-bit
// duration segments (§2.5.1.3) are joined into one span. A masker masks the
// audio packets overlapping [Span.Start, Span.End()), and everything from
// Start on while a span is open. Decoding a payload and a tracker update
// allocate nothing.
package dtmf
