package web

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

const (
	rate        = 8000 // samples per second in every hush recording
	searchLimit = 50   // results a search shows
	searchPages = 20   // pages of the API a filtered search reads at most
)

var statusNames = map[string]hushv1.RecordingStatus{
	"in_progress": hushv1.RecordingStatus_RECORDING_STATUS_IN_PROGRESS,
	"complete":    hushv1.RecordingStatus_RECORDING_STATUS_COMPLETE,
	"repaired":    hushv1.RecordingStatus_RECORDING_STATUS_REPAIRED,
	"failed":      hushv1.RecordingStatus_RECORDING_STATUS_FAILED,
}

type searchForm struct {
	CallID, Agent, From, To, State string
}

type searchData struct {
	Form     searchForm
	Problem  string
	Results  []*hushv1.Recording
	More     bool
	Searched bool
}

// qaSearch lists recordings by call id, agent, time and state through ListRecordings,
// reading at most searchPages pages (a page may come back short when the index stops
// scanning).
func (u *UI) qaSearch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := searchForm{CallID: strings.TrimSpace(q.Get("call_id")), Agent: strings.TrimSpace(q.Get("agent")),
		From: q.Get("from"), To: q.Get("to"), State: q.Get("state")}
	d := searchData{Form: f, Searched: len(q) > 0}
	req := &hushv1.ListRecordingsRequest{CallId: f.CallID, AgentId: f.Agent, PageSize: 100}
	for _, t := range []struct {
		in  string
		out **timestamppb.Timestamp
	}{{f.From, &req.StartTime}, {f.To, &req.EndTime}} {
		if t.in == "" {
			continue
		}
		at, err := time.ParseInLocation("2006-01-02T15:04", t.in, time.UTC)
		if err != nil {
			d.Problem = "Times are YYYY-MM-DDTHH:MM (UTC)."
			u.render(w, r, http.StatusBadRequest, "qa.html", view{Title: "Recordings", Nav: "qa", Data: d})
			return
		}
		*t.out = timestamppb.New(at)
	}
	want, stateOK := statusNames[f.State]
	if f.State != "" && !stateOK {
		d.Problem = "Unknown state."
		u.render(w, r, http.StatusBadRequest, "qa.html", view{Title: "Recordings", Nav: "qa", Data: d})
		return
	}
	req.Status = want
	ctx, cancel := call(r)
	defer cancel()
	for range searchPages {
		resp, err := u.rec.ListRecordings(ctx, req)
		if err != nil {
			u.refused(w, r, err)
			return
		}
		for _, rec := range resp.GetRecordings() {
			if len(d.Results) == searchLimit {
				d.More = true
				break
			}
			d.Results = append(d.Results, rec)
		}
		if d.More || resp.GetNextPageToken() == "" {
			break
		}
		req.PageToken = resp.GetNextPageToken()
	}
	u.render(w, r, http.StatusOK, "qa.html", view{Title: "Recordings", Nav: "qa", Data: d})
}

// span is a shaded interval of the waveform, in viewBox units (one per column).
type span struct {
	Kind          string // "mask" or "pause"
	X, W          float64
	Start, End    float64 // seconds into the file
	Label, Detail string
	Channel       string
}

type recordingData struct {
	Rec      *hushv1.Recording
	Rows     []span // Spans for the table: a run of key presses is one row
	Seconds  float64
	Columns  int
	Customer string // SVG paths
	Agent    string
	Spans    []span
	Audit    []*hushv1.AuditRecord
	AuditErr string
	Audio    string
	Download string
	Elapsed  time.Duration // computing the waveform (0: from the cache)
}

func (u *UI) qaRecording(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ctx, cancel := call(r)
	defer cancel()
	rec, err := u.rec.GetRecording(ctx, &hushv1.GetRecordingRequest{RecordingId: id})
	if err != nil {
		u.refused(w, r, err)
		return
	}
	start := time.Now()
	computed := false
	key := fmt.Sprintf("%s|%s|%d", rec.GetRecordingId(), rec.GetSha256(), rec.GetSizeBytes())
	wave, err := u.waves.get(ctx, key, func() (*Waveform, error) {
		computed = true
		st, err := u.rec.DownloadRecording(ctx, &hushv1.DownloadRecordingRequest{RecordingId: id})
		if err != nil {
			return nil, err
		}
		return ComputeWaveform(&streamReader{recv: st.Recv}, u.o.WaveformColumns)
	})
	if err != nil {
		if _, ok := status.FromError(err); ok && status.Code(err) != codes.Unknown {
			u.refused(w, r, err)
			return
		}
		u.o.Logger.Error("waveform failed", "recording_id", rec.GetRecordingId(), "err", err)
		u.refused(w, r, status.Error(codes.Internal, "cannot read the recording"))
		return
	}
	d := recordingData{Rec: rec, Columns: wave.Columns, Seconds: float64(wave.Frames) / rate,
		Customer: wave.Path(0, 50, 44), Agent: wave.Path(1, 150, 44),
		Audio:    "/v1/recordings/" + rec.GetRecordingId() + "/audio",
		Download: "/v1/recordings/" + rec.GetRecordingId() + "/audio?download=1"}
	if computed {
		d.Elapsed = time.Since(start)
	}
	d.Spans = spans(rec, wave)
	d.Rows = rows(d.Spans)
	if sid := rec.GetSessionId(); sid != "" {
		ar, err := u.audit.ListAuditRecords(ctx, &hushv1.ListAuditRecordsRequest{SessionId: sid, PageSize: 500})
		if err != nil {
			d.AuditErr = "The audit trail could not be read (" + status.Code(err).String() + ")."
		} else {
			d.Audit = ar.GetRecords()
		}
	}
	u.render(w, r, http.StatusOK, "recording.html", view{Title: "Recording " + rec.GetCallId(), Nav: "qa", Data: d})
}

// spans places pauses and masks on the file's timeline. Span samples are on the call's
// timeline; a skip pause leaves its time out of the file, so later positions move back.
func spans(rec *hushv1.Recording, w *Waveform) []span {
	var skips [][2]uint64
	for _, p := range rec.GetPauses() {
		if p.GetBehavior() == hushv1.PauseBehavior_PAUSE_BEHAVIOR_SKIP {
			skips = append(skips, [2]uint64{p.GetStartSample(), p.GetEndSample()})
		}
	}
	file := func(t uint64) float64 {
		off := uint64(0)
		for _, s := range skips {
			switch {
			case t >= s[1]:
				off += s[1] - s[0]
			case t > s[0]:
				off += t - s[0]
			}
		}
		return float64(t - off)
	}
	frames := float64(max(w.Frames, 1))
	place := func(a, b uint64) (x, width, s, e float64) {
		fa, fb := min(file(a), frames), min(file(b), frames)
		x = fa / frames * float64(w.Columns)
		width = max((fb-fa)/frames*float64(w.Columns), 0.6) // a short key still shows
		return x, width, fa / rate, fb / rate
	}
	var pauseActs []*hushv1.RecordingAction
	for _, a := range rec.GetActions() {
		if strings.HasPrefix(a.GetAction(), "pause") {
			pauseActs = append(pauseActs, a)
		}
	}
	var out []span
	for i, p := range rec.GetPauses() {
		x, wd, s, e := place(p.GetStartSample(), p.GetEndSample())
		who := "hush"
		if i < len(pauseActs) && pauseActs[i].GetActor() != "" {
			who = pauseActs[i].GetActor()
		}
		how := "silence"
		if p.GetBehavior() == hushv1.PauseBehavior_PAUSE_BEHAVIOR_SKIP {
			how = "left out of the file"
		}
		why := p.GetReason()
		if why == "" {
			why = "no reason given"
		}
		out = append(out, span{Kind: "pause", X: x, W: wd, Start: s, End: e, Channel: "both",
			Label:  "Paused by " + who,
			Detail: fmt.Sprintf("%s, %s: %s (%s)", clock(p.GetStartTime()), dur(e-s), why, how)})
	}
	for _, m := range rec.GetMasks() {
		x, wd, s, e := place(m.GetStartSample(), m.GetEndSample())
		leg := "customer"
		if m.GetLeg() == hushv1.LegName_LEG_NAME_AGENT {
			leg = "agent"
		}
		out = append(out, span{Kind: "mask", X: x, W: wd, Start: s, End: e, Channel: leg,
			Label:  "Keypad tones masked (" + leg + ")",
			Detail: fmt.Sprintf("%s, %s: hush replaced the %s's key tones", clock(m.GetStartTime()), dur(e-s), leg)})
	}
	return out
}

// keyRun is the longest gap between two masked key presses shown as one row: a card
// number keyed is one event for QA, not sixteen.
const keyRun = 2.0 // seconds

// rows joins runs of masked key presses on one leg into one row each.
func rows(spans []span) []span {
	var out []span
	n := 0 // key presses in the last row
	for _, s := range spans {
		if last := len(out) - 1; s.Kind == "mask" && last >= 0 && out[last].Kind == "mask" &&
			out[last].Channel == s.Channel && s.Start-out[last].End <= keyRun {
			n++
			out[last].End = s.End
			out[last].Label = fmt.Sprintf("Keypad tones masked (%s), %d key presses", s.Channel, n)
			out[last].Detail = fmt.Sprintf("%s to %s: hush replaced the %s's key tones", mmss(out[last].Start), mmss(s.End), s.Channel)
			continue
		}
		n = 1
		out = append(out, s)
	}
	return out
}

func clock(t *timestamppb.Timestamp) string {
	if t == nil {
		return "—"
	}
	return t.AsTime().UTC().Format("15:04:05")
}

func dur(sec float64) string {
	if sec < 10 {
		return fmt.Sprintf("%.2f s", sec)
	}
	return mmss(sec)
}

func mmss(sec float64) string {
	s := int(sec + 0.5)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// streamReader reads a DownloadRecording stream as bytes.
type streamReader struct {
	recv func() (*hushv1.DownloadRecordingResponse, error)
	buf  []byte
}

func (s *streamReader) Read(p []byte) (int, error) {
	for len(s.buf) == 0 {
		m, err := s.recv()
		if errors.Is(err, io.EOF) {
			return 0, io.EOF
		}
		if err != nil {
			return 0, err
		}
		s.buf = m.GetChunk()
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	return n, nil
}

var funcs = template.FuncMap{
	"when": func(t *timestamppb.Timestamp) string {
		if t == nil {
			return "—"
		}
		return t.AsTime().UTC().Format("2006-01-02 15:04:05")
	},
	"clock": clock,
	"mmss":  mmss,
	"length": func(r *hushv1.Recording) string {
		if r.GetDuration() == nil {
			return "—"
		}
		return mmss(r.GetDuration().AsDuration().Seconds())
	},
	"state": func(s hushv1.RecordingStatus) string {
		for k, v := range statusNames {
			if v == s {
				return strings.ReplaceAll(k, "_", " ")
			}
		}
		return "unknown"
	},
	"f1": func(v float64) string { return fmt.Sprintf("%.2f", v) },
	"ms": func(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) },
}
