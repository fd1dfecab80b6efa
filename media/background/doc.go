// Package background runs work that must not compete with the media workers for the
// processor (the recording writers' draining, file writes and hashing) on a few OS
// threads of its own, each at a lower scheduling priority: SCHED_BATCH at a higher nice
// value. A goroutine moves between threads, so a priority can only be given to a thread
// a goroutine is locked to; the pool's goroutines are, and the work is handed to them.
//
// Lowering one's own priority needs no privilege (sched(7)), so the pool works without
// CAP_SYS_NICE. On a busy host the kernel then gives the media workers' thread the
// processor first whenever both are runnable on it, and a writer that wakes does not
// preempt a worker (SCHED_BATCH).
package background
