// Package cpucache asks the processor to start loading memory the packet
// loop is about to touch. Under load every call's state is out of cache
// when its next packet or release comes (a thousand streams in turn), and
// the loop otherwise waits on each of those loads in sequence; issuing them
// for a whole batch first lets them overlap.
package cpucache

// LineSize is the cache line size assumed (x86-64 and most arm64).
const LineSize = 64
