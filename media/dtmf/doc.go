// Package dtmf finds DTMF digits in telephone audio and in RFC 4733
// telephone-event packets. It is a pure library: no I/O, no goroutines, no
// allocation per frame or packet.
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
// Start on while a span is open.
package dtmf
