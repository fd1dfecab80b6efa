//go:build linux && (amd64 || arm64)

package relay

import "testing"

func TestKernelVersion(t *testing.T) {
	maj, min, ok := kernelVersion()
	if !ok || maj < 2 {
		t.Fatalf("kernel version %d.%d ok=%v", maj, min, ok)
	}
	t.Logf("Linux %d.%d", maj, min)
}
