// Command hushload is hush's load generator: it sets up N calls on a relay under test,
// sends G.711 at 20 ms on both legs of each with real pacing, receives everything and
// reports loss, reordering, added latency (p50/p99/p99.9), added jitter, and the relay's
// CPU-seconds per million packets and memory. The relay is a hushd (started by hushload,
// or a running one), Sipwise rtpengine doing plain forwarding (started by hushload, for
// comparison), or no relay at all (-target direct: the generator's own floor).
//
// Modes: one run (default); -compare (hush and rtpengine under the same load in one
// invocation, with ratios); -scale 100,250,500,1000 (a scaling curve); -ramp (the largest
// N with no loss); -soak (a long run with RSS sampled every 10 s). -hog N adds a competing
// CPU load (N busy threads in a process of their own, at the same priority) for part of
// every run's window and reports the latency while it ran, so a busy host is measured
// rather than waited for. Output is a table, and JSON with -json FILE. See
// docs/PERFORMANCE.md.
package main
