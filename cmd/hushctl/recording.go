package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// recordingVerbs is the table of "recording VERB" subcommands, in usage order.
var recordingVerbs = []verb{
	{name: "list", help: "list recordings, newest first (all pages); --call-id, --agent-id, --label, --since, --until narrow it", flags: recordingListFlags,
		long: `Every filter given must match: --label key=value may repeat (all must
match), --since and --until bound the start time. CONTENT says whether the file
holds all the audio: partial or undecodable when a leg sent a codec hush cannot
decode (recorded as silence).`},
	{name: "info", args: "ID", npos: 1, help: "show a recording's sidecar: status, times, size, sha256, pauses, masks, actions", flags: recordingInfoFlags},
	{name: "get", args: "ID", npos: 1, help: "download a recording's WAV to -o FILE or stdout, checking size and sha256", flags: recordingGetFlags,
		long: `Streams the WAV to -o FILE (or to stdout; "-o -" writes to stdout even when it
is a terminal). --offset N resumes an interrupted download: with -o FILE the
first N bytes already in FILE are kept and the rest is written after them.
The total received must match the size hushd announces. The SHA-256 of the
result goes to stderr; for a complete (or repaired) recording it must equal
the sidecar's sha256, else the exit status is 1 and FILE should not be
trusted. --json does not apply: the output is the WAV itself.`},
	{name: "erase", help: "remove a recording (--id) or every recording of a call (--call-id) from the disk, the object store and the index (admin; audited)", flags: recordingEraseFlags,
		long: `A recording on legal hold, or still being written, is refused. --reason is kept
in hushd's audit log with who erased what.`},
	{name: "hold", args: "ID", npos: 1, help: "place a legal hold on a recording (--release lifts it): kept past its retention, never erased (admin; audited)", flags: recordingHoldFlags},
}

func recordingEraseFlags(fs *flag.FlagSet) connAction {
	req := &hushv1.EraseRecordingRequest{}
	fs.StringVar(&req.RecordingId, "id", "", "the recording to erase")
	fs.StringVar(&req.CallId, "call-id", "", "erase every recording of this call id")
	fs.StringVar(&req.Reason, "reason", "", "why (kept in the audit log)")
	return func(ctx context.Context, a *app, cc grpc.ClientConnInterface, _ []string) error {
		if (req.RecordingId == "") == (req.CallId == "") {
			return usageErrorf("recording erase: give --id or --call-id")
		}
		ctx, cancel := a.callCtx(ctx)
		defer cancel()
		resp, err := recordingClient(cc).EraseRecording(ctx, req)
		if err != nil {
			return err
		}
		if a.json {
			return a.printJSON(resp, true)
		}
		for _, id := range resp.GetRecordingIds() {
			fmt.Fprintf(a.stdout, "erased %s\n", id)
		}
		return nil
	}
}

func recordingHoldFlags(fs *flag.FlagSet) connAction {
	release := fs.Bool("release", false, "lift the hold")
	reason := fs.String("reason", "", "why (kept in the sidecar and the audit log)")
	return func(ctx context.Context, a *app, cc grpc.ClientConnInterface, pos []string) error {
		ctx, cancel := a.callCtx(ctx)
		defer cancel()
		r, err := recordingClient(cc).SetLegalHold(ctx, &hushv1.SetLegalHoldRequest{RecordingId: pos[0], Hold: !*release, Reason: *reason})
		if err != nil {
			return err
		}
		return a.printRecording(r)
	}
}

// recordingClient is the client of RecordingService for one verb's action.
func recordingClient(cc grpc.ClientConnInterface) hushv1.RecordingServiceClient {
	return hushv1.NewRecordingServiceClient(cc)
}

func recordingListFlags(fs *flag.FlagSet) connAction {
	req := &hushv1.ListRecordingsRequest{}
	fs.StringVar(&req.CallId, "call-id", "", "only the recordings of this call id")
	fs.StringVar(&req.AgentId, "agent-id", "", "only the recordings of this agent")
	labels := labelsFlag{}
	fs.Var(labels, "label", "only recordings whose session had this `key=value` label (repeatable: all must match)")
	since := fs.String("since", "", "only recordings started at or after this RFC 3339 `time`")
	until := fs.String("until", "", "only recordings started before this RFC 3339 `time`")
	pageSize := fs.Int("page-size", 0, "recordings per call (0 = server default)")
	state := fs.String("status", "", "only recordings in this `state`: in_progress, complete, repaired or failed")
	return func(ctx context.Context, a *app, cc grpc.ClientConnInterface, _ []string) error {
		if *pageSize < 0 || *pageSize > 1<<30 {
			return usageErrorf("--page-size must be >= 0, got %d", *pageSize)
		}
		if *state != "" {
			st, ok := hushv1.RecordingStatus_value["RECORDING_STATUS_"+strings.ToUpper(*state)]
			if !ok || st == 0 {
				return usageErrorf("--status must be in_progress, complete, repaired or failed, got %q", *state)
			}
			req.Status = hushv1.RecordingStatus(st)
		}
		req.PageSize = int32(*pageSize)
		if len(labels) > 0 {
			req.Labels = labels
		}
		var err error
		if req.StartTime, err = rfc3339("--since", *since); err != nil {
			return err
		}
		if req.EndTime, err = rfc3339("--until", *until); err != nil {
			return err
		}
		if req.StartTime != nil && req.EndTime != nil && !req.EndTime.AsTime().After(req.StartTime.AsTime()) {
			return usageErrorf("--until must be after --since")
		}
		c := recordingClient(cc)
		all := &hushv1.ListRecordingsResponse{}
		seen := map[string]bool{}
		for range maxPages {
			ctx, cancel := a.callCtx(ctx)
			resp, err := c.ListRecordings(ctx, req)
			cancel()
			if err != nil {
				return err
			}
			all.Recordings = append(all.Recordings, resp.Recordings...)
			next := resp.NextPageToken
			if next == "" {
				return a.printRecordings(all)
			}
			if seen[next] {
				return fmt.Errorf("server repeated page token %q", next)
			}
			seen[next] = true
			req.PageToken = next
		}
		return fmt.Errorf("more than %d pages; narrow the list with --call-id, --agent-id, --label, --since or --until", maxPages)
	}
}

// rfc3339 parses an optional time flag; fractional seconds are allowed.
func rfc3339(name, s string) (*timestamppb.Timestamp, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, usageErrorf("%s wants an RFC 3339 time such as 2026-11-26T21:00:00Z, got %q", name, s)
	}
	ts := timestamppb.New(t)
	if ts.CheckValid() != nil {
		return nil, usageErrorf("%s is out of range: %q", name, s)
	}
	return ts, nil
}

func recordingInfoFlags(*flag.FlagSet) connAction {
	return func(ctx context.Context, a *app, cc grpc.ClientConnInterface, pos []string) error {
		ctx, cancel := a.callCtx(ctx)
		defer cancel()
		r, err := recordingClient(cc).GetRecording(ctx, &hushv1.GetRecordingRequest{RecordingId: pos[0]})
		if err != nil {
			return err
		}
		return a.printRecording(r)
	}
}

// Download errors, all exit 1.
var (
	// errDownload: the stream broke the DownloadRecording contract
	// (a gap, an overrun, a changing size, a short total).
	errDownload = errors.New("bad download")
	// errChecksum: what was written does not hash to the sidecar's sha256.
	errChecksum = errors.New("sha256 mismatch")
)

func recordingGetFlags(fs *flag.FlagSet) connAction {
	var out string
	fs.StringVar(&out, "o", "", "write to `FILE` (\"-\" = stdout, even a terminal)")
	fs.StringVar(&out, "output", "", "same as -o")
	offset := fs.Uint64("offset", 0, "resume from this byte `N` (with -o, FILE must hold at least N bytes)")
	return func(ctx context.Context, a *app, cc grpc.ClientConnInterface, pos []string) error {
		return a.download(ctx, recordingClient(cc), pos[0], out, *offset)
	}
}

// download runs "recording get": sidecar first (for size and sha256), then the stream.
func (a *app) download(ctx context.Context, c hushv1.RecordingServiceClient, id, out string, offset uint64) error {
	if out == "" && isTerminal(a.stdout) {
		return usageErrorf("recording get: refusing to write WAV audio to a terminal; use -o FILE (or -o - to insist)")
	}
	if offset > 1<<62 {
		return usageErrorf("--offset too large: %d", offset)
	}
	rec, err := func() (*hushv1.Recording, error) {
		ctx, cancel := a.callCtx(ctx)
		defer cancel()
		return c.GetRecording(ctx, &hushv1.GetRecordingRequest{RecordingId: id})
	}()
	if err != nil {
		return err
	}

	h := sha256.New()
	var w io.Writer = a.stdout
	name := "stdout"
	var f *os.File
	if out != "" && out != "-" {
		name = out
		if f, err = openForDownload(out, offset, h); err != nil {
			return err
		}
		defer f.Close() // a second Close after the checked one is harmless
		w = f
	}
	// whole: the hash covers the file from byte 0, so it can be checked.
	whole := offset == 0 || f != nil

	// The stream has no deadline: a long recording may take a while.
	stream, err := c.DownloadRecording(ctx, &hushv1.DownloadRecordingRequest{RecordingId: id, Offset: offset})
	if err != nil {
		return err
	}
	end, size, err := receive(stream.Recv, io.MultiWriter(w, h), offset)
	if err == nil && f != nil {
		err = f.Close()
	}
	if err != nil {
		if end > offset && f != nil {
			return fmt.Errorf("%w (%s holds %d bytes; resume with --offset %d)", err, name, end, end)
		}
		return err
	}
	if size == unknownSize {
		// Nothing was sent: the offset was already the end of the file.
		size = end
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if whole {
		fmt.Fprintf(a.stderr, "%s: %d bytes, sha256 %s\n", name, size, sum)
	} else {
		fmt.Fprintf(a.stderr, "%s: bytes %d-%d of %d, sha256 of those bytes %s\n", name, offset, size, size, sum)
	}
	final := rec.GetStatus() == hushv1.RecordingStatus_RECORDING_STATUS_COMPLETE ||
		rec.GetStatus() == hushv1.RecordingStatus_RECORDING_STATUS_REPAIRED
	switch {
	case !final:
		fmt.Fprintf(a.stderr, "sha256 not checked: recording is %s\n", enumName(rec.GetStatus()))
	case !whole:
		fmt.Fprintf(a.stderr, "sha256 not checked: only part of the file was written\n")
	case rec.GetSha256() == "":
		fmt.Fprintf(a.stderr, "sha256 not checked: the sidecar has none\n")
	case rec.GetSizeBytes() != size:
		return fmt.Errorf("%w: %s has %d bytes, the sidecar says %d", errDownload, name, size, rec.GetSizeBytes())
	case !strings.EqualFold(rec.GetSha256(), sum):
		return fmt.Errorf("%w: %s hashes to %s, the sidecar says %s; do not trust it", errChecksum, name, sum, rec.GetSha256())
	default:
		fmt.Fprintf(a.stderr, "sha256 matches the sidecar\n")
	}
	return nil
}

// openForDownload opens out for writing at offset. When resuming, the
// bytes before offset stay and are fed to h, so the final hash covers the
// whole file; anything after offset is cut off, to be written again.
func openForDownload(out string, offset uint64, h hash.Hash) (*os.File, error) {
	if offset == 0 {
		// Recordings are personal data: readable by the owner only.
		return os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	}
	f, err := os.OpenFile(out, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("--offset %d resumes into an existing file: %w", offset, err)
	}
	st, err := f.Stat()
	if err == nil && uint64(st.Size()) < offset {
		err = usageErrorf("--offset %d is past the end of %s (%d bytes)", offset, out, st.Size())
	}
	if err == nil {
		err = f.Truncate(int64(offset))
	}
	if err == nil {
		_, err = io.CopyN(h, f, int64(offset)) // leaves f at offset
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// unknownSize is receive's size when no chunk arrived to announce one.
const unknownSize = ^uint64(0)

// receive copies a DownloadRecording stream that starts at offset to w. It
// returns the offset reached, the file size the server announced, and an
// error wrapping errDownload when the chunks are not contiguous, overrun or
// fall short of that size, or the size changes. Every accepted chunk
// advances the offset, so a hostile server cannot loop it without bound.
func receive(recv func() (*hushv1.DownloadRecordingResponse, error), w io.Writer, offset uint64) (end, size uint64, err error) {
	end, size = offset, unknownSize
	for {
		m, err := recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return end, size, err
		}
		chunk := m.GetChunk()
		switch {
		case len(chunk) == 0:
			return end, size, fmt.Errorf("%w: empty chunk at byte %d", errDownload, end)
		case m.GetOffset() != end:
			return end, size, fmt.Errorf("%w: chunk at byte %d, expected %d", errDownload, m.GetOffset(), end)
		case size != unknownSize && m.GetSize() != size:
			return end, size, fmt.Errorf("%w: size changed from %d to %d", errDownload, size, m.GetSize())
		case m.GetSize() == unknownSize || m.GetSize() < end || uint64(len(chunk)) > m.GetSize()-end:
			return end, size, fmt.Errorf("%w: chunk of %d bytes at %d overruns size %d", errDownload, len(chunk), end, m.GetSize())
		}
		size = m.GetSize()
		if _, err := w.Write(chunk); err != nil {
			return end, size, err
		}
		end += uint64(len(chunk))
	}
	if size != unknownSize && end != size {
		return end, size, fmt.Errorf("%w: stream ended at byte %d of %d", errDownload, end, size)
	}
	return end, size, nil
}

func (a *app) printRecordings(r *hushv1.ListRecordingsResponse) error {
	if a.json {
		return a.printJSON(r, true)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RECORDING\tCALL ID\tAGENT ID\tSTATUS\tCONTENT\tSTARTED\tDURATION\tSIZE\tPAUSES\tMASKS")
	for _, r := range r.GetRecordings() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\n",
			r.GetRecordingId(), dash(r.GetCallId()), dash(r.GetAgentId()), enumName(r.GetStatus()), enumName(r.GetContent()),
			stamp(r.GetStartTime()), dur(r.GetDuration()), r.GetSizeBytes(), len(r.GetPauses()), len(r.GetMasks()))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(a.stdout, "%d recording(s)\n", len(r.GetRecordings()))
	return err
}

func (a *app) printRecording(r *hushv1.Recording) error {
	if a.json {
		return a.printJSON(r, true)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...) }
	row("recording", "%s", r.GetRecordingId())
	row("session", "%s", dash(r.GetSessionId()))
	row("call id", "%s", dash(r.GetCallId()))
	if r.GetAgentId() != "" {
		row("agent id", "%s", r.GetAgentId())
	}
	row("status", "%s", enumName(r.GetStatus()))
	if r.GetFailure() != "" {
		row("failure", "%s", r.GetFailure())
	}
	row("content", "%s", enumName(r.GetContent()))
	if n, m := r.GetCustomerUndecodablePackets(), r.GetAgentUndecodablePackets(); n+m > 0 {
		row("undecodable", "customer %d, agent %d packets (a codec hush cannot decode: silence in the file)", n, m)
	}
	if n, m := r.GetCustomerLatePackets(), r.GetAgentLatePackets(); n+m > 0 {
		row("late", "customer %d, agent %d packets (past the jitter window: silence in the file)", n, m)
	}
	row("started", "%s", stamp(r.GetStartTime()))
	row("ended", "%s", stamp(r.GetEndTime()))
	row("duration", "%s", dur(r.GetDuration()))
	row("size", "%d bytes", r.GetSizeBytes())
	row("sha256", "%s", dash(r.GetSha256()))
	if r.GetEncrypted() {
		row("encrypted", "at rest (the download is decrypted)")
	}
	if r.GetInObjectStore() {
		row("stored", "in the object store")
	}
	if r.GetRetainUntil() != nil {
		row("retain until", "%s", stamp(r.GetRetainUntil()))
	}
	if h := r.GetLegalHold(); h != nil {
		row("legal hold", "since %s by %s reason=%q", stamp(h.GetTime()), dash(h.GetActor()), h.GetReason())
	}
	if len(r.GetLabels()) > 0 {
		row("labels", "%s", labels(r.GetLabels()))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var b strings.Builder
	spans := func(title string, ss []*hushv1.Span, what func(*hushv1.Span) string) {
		fmt.Fprintf(&b, "%s: %d\n", title, len(ss))
		for _, s := range ss {
			fmt.Fprintf(&b, "  %s .. %s  samples %d-%d (%s-%s)  %s\n", stamp(s.GetStartTime()), stamp(s.GetEndTime()),
				s.GetStartSample(), s.GetEndSample(), sampleTime(s.GetStartSample()), sampleTime(s.GetEndSample()), what(s))
		}
	}
	spans("pauses", r.GetPauses(), func(s *hushv1.Span) string {
		w := enumName(s.GetBehavior())
		if s.GetReason() != "" {
			w += fmt.Sprintf(" reason=%q", s.GetReason())
		}
		return w
	})
	spans("masks", r.GetMasks(), func(s *hushv1.Span) string { return "leg " + enumName(s.GetLeg()) })
	fmt.Fprintf(&b, "actions: %d\n", len(r.GetActions()))
	for _, act := range r.GetActions() {
		fmt.Fprintf(&b, "  %s  %s", stamp(act.GetTime()), dash(act.GetAction()))
		if act.GetActor() != "" {
			fmt.Fprintf(&b, " by=%s", act.GetActor())
		}
		if act.GetRequestId() != "" {
			fmt.Fprintf(&b, " request=%s", act.GetRequestId())
		}
		if act.GetReason() != "" {
			fmt.Fprintf(&b, " reason=%q", act.GetReason())
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(a.stdout, b.String())
	return err
}

// sampleRate is the recording's rate (stereo 8 kHz); span offsets count
// sample frames at this rate.
const sampleRate = 8000

// sampleTime shows a sample offset as a position in the file.
func sampleTime(n uint64) string {
	if n > uint64(1<<62)/uint64(time.Second) { // beyond any real call; avoid overflow
		return "?"
	}
	return (time.Duration(n) * time.Second / sampleRate).String()
}
