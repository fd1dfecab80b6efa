package main

import (
	"context"
	"fmt"
	"os"
	"syscall"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hushmedia/hush/internal/audit"
	"github.com/hushmedia/hush/internal/config"
	"github.com/hushmedia/hush/internal/session"
	"github.com/hushmedia/hush/internal/version"
	"github.com/hushmedia/hush/media/relay"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// diagnostics answers AdminService.Diagnose: what hushd can check of its own deployment,
// for `hushctl doctor` to judge.
type diagnostics struct {
	cfg      *config.Config
	engine   string
	alloc    *relay.PortAllocator
	sessions *session.Registry
	audit    *audit.Log // nil when the audit log is off
}

func (d *diagnostics) Diagnose(ctx context.Context) (*hushv1.Diagnosis, error) {
	out := &hushv1.Diagnosis{
		ServerTime: timestamppb.Now(), Version: version.Get().Short(),
		Engine: d.engine, EngineConfigured: d.cfg.Media.Engine,
		PortPairs: uint32(d.alloc.Capacity()), PortPairsInUse: uint32(d.alloc.InUse()),
		SessionsActive: uint32(d.sessions.Len()), MaxSessions: uint32(d.cfg.Session.MaxSessions),
		Draining:  d.sessions.Draining(),
		Recording: recordingCheck(d.cfg.Recording),
	}
	out.Audit = d.auditCheck(ctx)
	return out, nil
}

// recordingCheck creates and removes a file in the recording directory, as a recording
// would, and reads the space left on its file system.
func recordingCheck(c config.Recording) *hushv1.RecordingDirCheck {
	rc := &hushv1.RecordingDirCheck{Enabled: c.Enabled, Dir: where(c.Dir)}
	if !c.Enabled {
		return rc
	}
	f, err := os.CreateTemp(c.Dir, ".hushd-doctor-*")
	if err != nil {
		rc.Error = err.Error()
	} else {
		f.Close()
		if err := os.Remove(f.Name()); err != nil {
			rc.Error = err.Error()
		} else {
			rc.Writable = true
		}
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(c.Dir, &st); err == nil {
		rc.FreeBytes = st.Bavail * uint64(st.Bsize)
		rc.TotalBytes = st.Blocks * uint64(st.Bsize)
	} else if rc.Error == "" {
		rc.Error = err.Error()
	}
	return rc
}

// auditCheck verifies the audit file's chain from its start and checks that it reaches
// the last record hushd wrote: a file edited, or cut short, under a running hushd.
func (d *diagnostics) auditCheck(ctx context.Context) *hushv1.AuditCheck {
	ac := &hushv1.AuditCheck{Enabled: d.cfg.Audit.File != "", File: where(d.cfg.Audit.File)}
	if d.audit == nil {
		return ac
	}
	seq, hash := d.audit.Head()
	ac.HeadSeq, ac.HeadHash = seq, hash
	f, err := os.Open(d.cfg.Audit.File)
	if err != nil {
		ac.Error = err.Error()
		return ac
	}
	defer f.Close()
	n, err := audit.Verify(contextReader{ctx, f})
	ac.Records = uint64(n)
	switch {
	case err != nil:
		ac.Error = err.Error()
	case uint64(n) < seq:
		ac.Error = fmt.Sprintf("the file holds %d records but hushd has written %d: its end was cut off", n, seq)
	default:
		ac.Verified = true
	}
	return ac
}

// contextReader stops a long read when the caller gives up.
type contextReader struct {
	ctx context.Context
	f   *os.File
}

func (r contextReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.f.Read(p)
}
