package background

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// lower puts the calling thread, locked to its goroutine, under SCHED_BATCH at nice.
func lower(nice int) (int, error) {
	attr := unix.SchedAttr{Policy: unix.SCHED_BATCH, Nice: int32(nice)}
	if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
		return 0, fmt.Errorf("%w: SCHED_BATCH nice %d: %v", ErrPriority, nice, err)
	}
	return unix.Gettid(), nil
}
