package prefault

import (
	"bytes"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fresh maps anonymous pages that nothing has touched yet.
func fresh(t *testing.T, pages int) []byte {
	t.Helper()
	b, err := unix.Mmap(-1, 0, pages*int(pageSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANONYMOUS|unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(b) })
	return b
}

// resident counts the pages of b the kernel has mapped (mincore).
func resident(t *testing.T, b []byte) int {
	t.Helper()
	vec := make([]byte, (len(b)+int(pageSize)-1)/int(pageSize))
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
		uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatalf("mincore: %v", e)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}

func TestRangeMapsEveryPage(t *testing.T) {
	const pages = 16
	for _, tc := range []struct {
		name      string
		from, to  uintptr // the range within the mapping
		wantPages int
	}{
		{"whole", 0, pages * pageSize, pages},
		{"unaligned start", 1, pages * pageSize, pages},
		{"mid-page to mid-page", pageSize / 2, 5*pageSize + 100, 6},
		{"one word", 8, 12, 1},
		{"last word of a page", pageSize - 4, pageSize, 1},
		{"three bytes", 1, 4, 0}, // no aligned word inside
		{"empty", 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := fresh(t, pages)
			if n := resident(t, b); n != 0 {
				t.Skipf("%d pages of a fresh mapping already resident: mincore cannot judge here", n)
			}
			Range(unsafe.Pointer(&b[tc.from]), tc.to-tc.from)
			if n := resident(t, b); n != tc.wantPages {
				t.Fatalf("%d pages resident after touching [%d, %d), want %d", n, tc.from, tc.to, tc.wantPages)
			}
		})
	}
}

// Touching changes nothing, and Slice covers the elements' bytes.
func TestSliceKeepsContents(t *testing.T) {
	type elem struct {
		a int64
		b [1000]byte
	}
	const n = 20
	b := fresh(t, 8)
	for i := range b {
		b[i] = byte(i * 7)
	}
	want := bytes.Clone(b)
	s := unsafe.Slice((*elem)(unsafe.Pointer(&b[0])), n)
	Slice(s)
	Slice([]elem(nil))
	Range(nil, 100)
	if !bytes.Equal(b, want) {
		t.Fatal("touching changed the memory")
	}

	c := fresh(t, 8)
	Slice(unsafe.Slice((*elem)(unsafe.Pointer(&c[0])), n))
	if got, want := resident(t, c), (n*int(unsafe.Sizeof(elem{}))+int(pageSize)-1)/int(pageSize); got != want {
		t.Fatalf("%d pages resident after Slice, want %d", got, want)
	}
}
