// Package warmtest checks warm-up levels: code that hints the processor
// (media/internal/cpucache) what a batch of packets will touch, one pointer
// level at a time, so that the batch's cache misses overlap. Level 0 may
// hint only memory whose address the caller has without a load (the
// layer's own struct); level k may read only what levels below k hinted.
// A level that reads a pointer no earlier level loaded waits on that load
// and the batch's misses stop overlapping: nothing fails, it only gets
// slower, so a test has to catch it.
//
// Check runs the levels in order with a trace of the hints and finds each
// hint's provenance. It maps the objects reachable from the root (by their
// types: structs, pointers, slices, interfaces, atomic.Pointer); every hint
// at level k > 0 outside the root must fall in such an object, and a
// pointer into that object must be stored in a cache line hinted at a level
// below k. It catches a level that hints through a pointer read from
// memory not yet hinted; it cannot see plain values (an index, a flag) read
// from such memory.
package warmtest

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/hushmedia/hush/media/internal/cpucache"
)

// Range is a span of memory: its address and length.
type Range struct{ P, N uintptr }

func (r Range) contains(a uintptr) bool { return a >= r.P && a < r.P+max(r.N, 1) }

// Check runs warm(0) ... warm(levels-1), each once, and fails t for every
// hint that breaks the rule (see the package comment); root is a pointer
// to the layer's own struct. It returns the hints of each level. Nothing
// else may hint while it runs (cpucache.Trace), and what root reaches must
// not change meanwhile.
func Check(t testing.TB, root any, levels int, warm func(level int)) [][]Range {
	t.Helper()
	hints := make([][]Range, levels)
	for l := range levels {
		stop := cpucache.Trace(func(p, n uintptr) { hints[l] = append(hints[l], Range{p, n}) })
		warm(l)
		stop()
	}
	for _, err := range Verify(hints, root) {
		t.Error(err)
	}
	return hints
}

// Verify is Check's rule on recorded hints: one error per hint that breaks it.
func Verify(hints [][]Range, root any) []error {
	v := reflect.ValueOf(root)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return []error{fmt.Errorf("root %T is not a non-nil pointer", root)}
	}
	self := Range{v.Pointer(), v.Type().Elem().Size()}
	m := newObjects()
	m.walk(self.P, v.Type().Elem())
	var errs []error
	for l, hs := range hints {
		for _, h := range hs {
			switch {
			case self.contains(h.P): // its address is known without a load
			case l == 0:
				errs = append(errs, fmt.Errorf("level 0 hints %#x, outside the layer's own memory", h.P))
			case !m.reached(hints[:l], h.P):
				errs = append(errs, fmt.Errorf("level %d hints %#x, in no object a line hinted below level %d points into", l, h.P, l))
			}
		}
	}
	return errs
}

// objects are the memory reachable from a root, by type.
type objects struct {
	rs   []Range
	seen map[objKey]bool
	ptrs map[reflect.Type]bool // types holding pointers
}

type objKey struct {
	p uintptr
	t reflect.Type
}

const maxObjects = 1 << 18

func newObjects() *objects {
	return &objects{seen: map[objKey]bool{}, ptrs: map[reflect.Type]bool{}}
}

// walk maps what the value of type t at address a points to.
func (m *objects) walk(a uintptr, t reflect.Type) {
	if len(m.rs) >= maxObjects || !m.hasPointers(t) {
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		m.object(load(a), t.Elem())
	case reflect.Interface:
		typ, data := load(a), load(a+ptrSize)
		if typ == 0 || data == 0 {
			return
		}
		if t.NumMethod() > 0 {
			typ = load(typ + ptrSize) // itab._type
		}
		var e any
		(*[2]uintptr)(unsafe.Pointer(&e))[0] = typ
		dt := reflect.TypeOf(e)
		if dt.Kind() == reflect.Pointer || dt.Kind() == reflect.UnsafePointer {
			if dt.Kind() == reflect.Pointer {
				m.object(data, dt.Elem())
			}
			return
		}
		m.object(data, dt) // held indirectly
	case reflect.Struct:
		if elem, ok := atomicPointer(t); ok {
			m.object(load(a), elem)
			return
		}
		for i := range t.NumField() {
			f := t.Field(i)
			m.walk(a+f.Offset, f.Type)
		}
	case reflect.Array:
		for i := range t.Len() {
			m.walk(a+uintptr(i)*t.Elem().Size(), t.Elem())
		}
	case reflect.Slice:
		base, n, c := load(a), load(a+ptrSize), load(a+2*ptrSize)
		if base == 0 || n > c || c*t.Elem().Size() > 1<<28 {
			return
		}
		m.rs = append(m.rs, Range{base, c * t.Elem().Size()})
		for i := range n {
			m.walk(base+i*t.Elem().Size(), t.Elem())
		}
	}
}

// object maps the object of type t at p.
func (m *objects) object(p uintptr, t reflect.Type) {
	if p == 0 || m.seen[objKey{p, t}] {
		return
	}
	m.seen[objKey{p, t}] = true
	m.rs = append(m.rs, Range{p, t.Size()})
	m.walk(p, t)
}

// atomicPointer reports whether t is a sync/atomic.Pointer, and its element type.
func atomicPointer(t reflect.Type) (reflect.Type, bool) {
	if t.PkgPath() != "sync/atomic" || !strings.HasPrefix(t.Name(), "Pointer[") || t.NumField() == 0 {
		return nil, false
	}
	f := t.Field(0) // _ [0]*T
	if f.Type.Kind() != reflect.Array || f.Type.Elem().Kind() != reflect.Pointer {
		return nil, false
	}
	return f.Type.Elem().Elem(), true
}

func (m *objects) hasPointers(t reflect.Type) bool {
	if v, ok := m.ptrs[t]; ok {
		return v
	}
	m.ptrs[t] = true // a recursive type holds pointers
	v := false
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Slice, reflect.UnsafePointer, reflect.Map, reflect.Chan,
		reflect.Func, reflect.String:
		v = true
	case reflect.Array:
		v = t.Len() > 0 && m.hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			v = v || m.hasPointers(t.Field(i).Type)
		}
	}
	m.ptrs[t] = v
	return v
}

// reached reports whether a lies in an object a pointer into which is
// stored in a cache line of one of the hints.
func (m *objects) reached(below [][]Range, a uintptr) bool {
	for _, o := range m.rs {
		if o.contains(a) && pointsInto(below, o) {
			return true
		}
	}
	return false
}

func pointsInto(below [][]Range, o Range) bool {
	const line = cpucache.LineSize
	for _, hs := range below {
		for _, h := range hs {
			for l := h.P &^ (line - 1); l < h.P+max(h.N, 1); l += line {
				for w := l; w < l+line; w += ptrSize {
					if o.contains(load(w)) {
						return true
					}
				}
			}
		}
	}
	return false
}

const ptrSize = unsafe.Sizeof(uintptr(0))

// load reads the word at a: memory of live objects the test holds, read
// whatever its type, without the race detector's or -race's pointer
// checks (a word another goroutine writes atomically is read plainly; a
// stale value only makes the check stricter).
//
//go:norace
//go:nocheckptr
func load(a uintptr) uintptr { return *(*uintptr)(unsafe.Add(unsafe.Pointer(nil), a)) }
