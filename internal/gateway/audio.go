package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// audio serves a recording's WAV through DownloadRecording (so the call is authorized,
// audited and rate limited as any download), with one byte range per request: an <audio>
// element seeks by asking for the bytes from a point on.
func (g *Gateway) audio(w http.ResponseWriter, r *http.Request, params map[string]string) {
	id := params["recording_id"]
	start, end, ranged, ok := parseRange(r.Header.Get("Range"))
	if !ok {
		ranged = false // a form this server does not serve (several ranges, suffix): the whole file
		start, end = 0, -1
	}
	ctx, cancel := context.WithCancel(CallContext(r.Context(), r))
	defer cancel()
	st, err := g.rec.DownloadRecording(ctx, &hushv1.DownloadRecordingRequest{RecordingId: id, Offset: uint64(start)})
	if err != nil {
		writeStatus(w, err)
		return
	}
	first, err := st.Recv()
	if errors.Is(err, io.EOF) { // an empty file (or start == size)
		first, err = &hushv1.DownloadRecordingResponse{}, nil
	}
	if err != nil {
		writeStatus(w, err)
		return
	}
	size := int64(first.GetSize())
	if ranged && start >= size {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", size))
		writeError(w, codes.OutOfRange, "range starts past the end of the recording")
		return
	}
	if end < 0 || end >= size {
		end = size - 1
	}
	h := w.Header()
	h.Set("Content-Type", "audio/wav")
	h.Set("Accept-Ranges", "bytes")
	h.Set("Content-Length", strconv.FormatInt(end-start+1, 10))
	if r.URL.Query().Get("download") == "1" {
		h.Set("Content-Disposition", `attachment; filename="`+safeName(id)+`.wav"`)
	}
	status := http.StatusOK
	if ranged {
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, size))
		status = http.StatusPartialContent
	}
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	left := end - start + 1
	for msg := first; left > 0; {
		chunk := msg.GetChunk()
		if int64(len(chunk)) > left {
			chunk = chunk[:left]
		}
		if _, err := w.Write(chunk); err != nil {
			return // the player went away (a seek closes the previous request)
		}
		left -= int64(len(chunk))
		if left == 0 {
			return
		}
		if msg, err = st.Recv(); err != nil {
			// Headers are out: all that can be done is to stop short, which the player
			// sees as a truncated body.
			g.log.Warn("recording audio ended early", "err", err)
			return
		}
	}
}

// parseRange reads "bytes=START-" or "bytes=START-END" (RFC 9110 s14.1.2). ranged is
// false without a header; ok is false for a form not served.
func parseRange(h string) (start, end int64, ranged, ok bool) {
	if h == "" {
		return 0, -1, false, true
	}
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, -1, false, false
	}
	a, b, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found || a == "" {
		return 0, -1, false, false
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 {
		return 0, -1, false, false
	}
	end = -1
	if b != "" {
		if end, err = strconv.ParseInt(b, 10, 64); err != nil || end < start {
			return 0, -1, false, false
		}
	}
	return start, end, true, true
}

// safeName keeps a file name to characters that need no quoting.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}
