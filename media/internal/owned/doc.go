// Package owned writes a counter that one goroutine at a time writes (its
// owner) while others load it atomically.
//
// On amd64 an atomic store is an XCHG and an atomic add a LOCKed add, and
// both wait until every earlier store has reached the cache: on the packet
// path, with a thousand streams, stores to cold lines, a miss or more each.
// amd64 reads and writes aligned 8-byte words whole and keeps stores in
// program order, so the owner's plain store or add is enough for readers
// who load atomically. Race builds and other architectures use the atomic
// operations, which the race detector understands. Were two goroutines ever
// to add at once, a count could miss an increment, never tear.
package owned
