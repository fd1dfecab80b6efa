package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hushmedia/hush/media/record"
	"github.com/hushmedia/hush/media/record/index"
	"github.com/hushmedia/hush/media/record/seal"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func testKeyring(t *testing.T) *seal.FileKeyring {
	kr, err := seal.ParseKeyFile([]byte("k1 " + strings.Repeat("Q", 43) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// fixture is a recordings root with an index and recordings made through
// record.New, sealed, their sidecars reported to the index.
type fixture struct {
	root string
	idx  *index.Index
	kr   *seal.FileKeyring
	clk  *fakeClock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{root: t.TempDir(), kr: testKeyring(t), clk: &fakeClock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}}
	idx, _, err := index.Open(context.Background(), f.root, index.WithRecordOptions(record.WithKeyring(f.kr)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	f.idx = idx
	return f
}

// record makes a finished recording id retained for keep (0: no retention).
func (f *fixture) record(t *testing.T, id string, keep time.Duration) string {
	t.Helper()
	rel := record.DateDir(f.clk.Now())
	dir := filepath.Join(f.root, rel)
	os.MkdirAll(dir, 0o750)
	meta := record.Meta{RecordingID: id, CallID: "call-" + id}
	if keep > 0 {
		meta.RetainUntil = f.clk.Now().Add(keep)
	}
	r, err := record.New(dir, meta, record.WithSealing(f.kr), record.WithClock(f.clk), record.WithDrainInterval(0),
		record.WithOnSidecar(func(sc *record.Sidecar) { f.idx.Put(rel, sc) }))
	if err != nil {
		t.Fatal(err)
	}
	r.Write(record.LegCustomer, 1, 0, make([]int16, 160))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func (f *fixture) manager(onDelete func(Erased)) *Manager {
	return New(Options{Root: f.root, Index: f.idx, Record: []record.Option{record.WithKeyring(f.kr)}, Clock: f.clk, OnDelete: onDelete})
}

func listed(t *testing.T, idx *index.Index) []string {
	page, _, err := idx.List(context.Background(), index.Query{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range page {
		ids = append(ids, e.Sidecar.RecordingID)
	}
	return ids
}

func leftFiles(t *testing.T, dir, id string) []string {
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), id) {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestEraseAndHold(t *testing.T) {
	f := newFixture(t)
	dir := f.record(t, "r1", 0)
	f.record(t, "r2", 0)
	m := f.manager(nil)
	ctx := context.Background()
	if _, err := m.SetHold(ctx, "r1", &record.Hold{Actor: "legal", Time: f.clk.Now(), Reason: "case 7"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Erase(ctx, "r1"); !errors.Is(err, ErrHeld) {
		t.Fatalf("erase on hold: %v", err)
	}
	sc, _, _ := f.idx.Sidecar(ctx, "r1")
	if sc.LegalHold == nil || sc.LegalHold.Reason != "case 7" || !sc.Encrypted {
		t.Fatalf("hold not kept: %+v", sc)
	}
	if _, err := m.SetHold(ctx, "r1", nil); err != nil {
		t.Fatal(err)
	}
	er, err := m.Erase(ctx, "r1")
	if err != nil || !er.Local || er.Objects {
		t.Fatalf("erase: %+v %v", er, err)
	}
	if left := leftFiles(t, dir, "r1"); len(left) != 0 {
		t.Fatalf("files left: %v", left)
	}
	if ids := listed(t, f.idx); len(ids) != 1 || ids[0] != "r2" {
		t.Fatalf("listed after erase: %v", ids)
	}
	if _, err := m.Erase(ctx, "r1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second erase: %v", err)
	}
	if _, err := m.Erase(ctx, "../x"); err == nil {
		t.Fatal("erase of a bad id")
	}
}

func TestRetentionSweep(t *testing.T) {
	f := newFixture(t)
	start := f.clk.Now()
	dir := f.record(t, "short", 24*time.Hour)
	f.record(t, "long", 30*24*time.Hour)
	f.record(t, "forever", 0)
	f.record(t, "held", 24*time.Hour)
	var deleted []string
	m := f.manager(func(e Erased) { deleted = append(deleted, e.RecordingID) })
	ctx := context.Background()
	if _, err := m.SetHold(ctx, "held", &record.Hold{Time: start}); err != nil {
		t.Fatal(err)
	}
	f.clk.Set(start.Add(23 * time.Hour))
	if out, err := m.Sweep(ctx); err != nil || len(out) != 0 {
		t.Fatalf("sweep before the end of retention: %+v %v", out, err)
	}
	f.clk.Set(start.Add(25 * time.Hour))
	out, err := m.Sweep(ctx)
	if err != nil || len(out) != 1 || out[0].RecordingID != "short" || len(deleted) != 1 {
		t.Fatalf("sweep after a day: %+v %v %v", out, err, deleted)
	}
	if left := leftFiles(t, dir, "short"); len(left) != 0 {
		t.Fatalf("files left: %v", left)
	}
	f.clk.Set(start.Add(31 * 24 * time.Hour))
	if out, err := m.Sweep(ctx); err != nil || len(out) != 1 || out[0].RecordingID != "long" {
		t.Fatalf("sweep after a month: %+v %v", out, err)
	}
	ids := listed(t, f.idx)
	if len(ids) != 2 {
		t.Fatalf("left: %v (want forever and held)", ids)
	}
	// Lifting the hold lets the next sweep delete it.
	m.SetHold(ctx, "held", nil)
	if out, err := m.Sweep(ctx); err != nil || len(out) != 1 || out[0].RecordingID != "held" {
		t.Fatalf("sweep after the hold: %+v %v", out, err)
	}
}
