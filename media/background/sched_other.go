//go:build !linux

package background

// lower does nothing where there is no per-thread policy to set; the work still runs
// on the pool's threads.
func lower(int) (int, error) { return 0, nil }
