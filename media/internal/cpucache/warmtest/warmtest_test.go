package warmtest

import (
	"testing"
	"unsafe"

	"github.com/hushmedia/hush/media/internal/cpucache"
)

type node struct {
	next *node
	pad  [120]byte
}

// chain is a -> b -> c, each its own allocation.
func chain() *node { return &node{next: &node{next: &node{}}} }

// A warm-up that follows the chain one level at a time passes; one that
// reads a pointer from a line it hinted at the same level, or before
// hinting it at all, fails; so does a level 0 outside the roots.
func TestVerify(t *testing.T) {
	a := chain()
	good := func(l int) {
		switch l {
		case 0:
			cpucache.Prefetch(unsafe.Pointer(a))
		case 1:
			cpucache.Prefetch(unsafe.Pointer(a.next))
		case 2:
			cpucache.Prefetch(unsafe.Pointer(a.next.next))
		}
	}
	Check(t, a, 3, good)

	for name, bad := range map[string]func(l int){
		"skips a level": func(l int) {
			switch l {
			case 0:
				cpucache.Prefetch(unsafe.Pointer(a))
			case 1:
				cpucache.Prefetch(unsafe.Pointer(a.next.next)) // reads a.next, not yet loaded
			}
		},
		"same level": func(l int) {
			if l == 0 {
				cpucache.Prefetch(unsafe.Pointer(a))
				cpucache.Prefetch(unsafe.Pointer(a.next)) // reads a at the level that hints it
			}
		},
		"outside roots": func(l int) {
			if l == 0 {
				cpucache.Prefetch(unsafe.Pointer(a.next))
			}
		},
	} {
		hints := make([][]Range, 3)
		for l := range hints {
			stop := cpucache.Trace(func(p, n uintptr) { hints[l] = append(hints[l], Range{p, n}) })
			bad(l)
			stop()
		}
		if errs := Verify(hints, a); len(errs) == 0 {
			t.Errorf("%s: no error", name)
		}
	}
}
