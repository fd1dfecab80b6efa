// Package session is hush's control plane for calls: a registry of sessions, their
// lifecycle (create, update as after a re-INVITE, delete, idle timeout, drain), request-id
// idempotency, the per-session event stream, and agent-activity monitoring (activity.go:
// what is flagged as suspicious, reported through Hooks).
//
// The data plane is reached through the Media interface (media/relay in production, a fake
// in tests). Control state that the packet loop reads is published by the media layer with
// atomics; this package never sits on the packet path. Locks here guard session state, and
// no lock is held while media is closed, because media callbacks (latching) run on packet
// goroutines and publish events under the session lock.
package session
