package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// chainState is where a scan of a file ended.
type chainState struct {
	n      int    // good records
	seq    uint64 // last good seq (0: none)
	hash   string // last good hash (Genesis: none)
	good   int64  // byte offset just past the last good line
	torn   bool   // the file ends in a line without newline (an interrupted write)
	tornAt int64  // offset where that line starts
	lastOK Record // last line that parsed, even past a break (for AllowBroken)
	parsed bool
}

// Verify reads an audit file and checks every record and every link. It
// returns the number of good records before the first problem, and a
// *LineError naming that line (wrapping ErrRecord or ErrChain), or nil.
// An empty file is a valid, empty chain.
func Verify(r io.Reader) (n int, err error) {
	st, err := scan(r, nil)
	return st.n, err
}

// scan walks the chain; after the first error it keeps reading only to
// find the last parseable record (lastOK), so a log opened with
// AllowBroken can carry on from the end of the file.
// Each complete line that parses is handed to each (with its offset and length), when
// set, whatever the chain: the index holds what a query can read back.
func scan(r io.Reader, each func(rec *Record, off int64, n int)) (chainState, error) {
	st := chainState{hash: Genesis}
	br := bufio.NewReaderSize(r, MaxLine+1)
	var first error
	var off int64
	for line := 1; ; line++ {
		raw, err := readLine(br)
		if err == io.EOF && len(raw) == 0 {
			return st, first
		}
		if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
			return st, errors.Join(first, fmt.Errorf("%w: read: %v", ErrRecord, err))
		}
		n := int64(len(raw))
		if errors.Is(err, bufio.ErrBufferFull) {
			n = skipLine(br, n)
			if first == nil {
				first = &LineError{line, fmt.Errorf("%w: longer than %d bytes", ErrRecord, MaxLine)}
			}
			off += n
			continue
		}
		complete := len(raw) > 0 && raw[len(raw)-1] == '\n'
		off += n
		text := bytes.TrimSuffix(raw, []byte("\n"))
		rec, perr := ParseRecord(text)
		if !complete {
			st.torn, st.tornAt = true, off-n
			if first == nil {
				first = &LineError{line, fmt.Errorf("%w: last line is incomplete (interrupted write)", ErrRecord)}
			}
			return st, first
		}
		if perr == nil {
			st.lastOK, st.parsed = rec, true
			if each != nil {
				each(&rec, off-n, int(n))
			}
		}
		if first != nil {
			continue
		}
		switch {
		case perr != nil:
			first = &LineError{line, perr}
		case rec.Seq != st.seq+1:
			first = &LineError{line, fmt.Errorf("%w: seq %d follows %d (a record was removed, added or moved)", ErrChain, rec.Seq, st.seq)}
		case rec.Prev != st.hash:
			first = &LineError{line, fmt.Errorf("%w: prev does not match the hash of the record before", ErrChain)}
		default:
			st.n, st.seq, st.hash, st.good = st.n+1, rec.Seq, rec.Hash, off
		}
	}
}

// readLine returns the next line including its newline, or a partial last
// line with io.EOF, or a full buffer with bufio.ErrBufferFull.
func readLine(br *bufio.Reader) ([]byte, error) {
	b, err := br.ReadSlice('\n')
	return b, err
}

// skipLine discards the rest of an over-long line and returns its length.
func skipLine(br *bufio.Reader, n int64) int64 {
	for {
		b, err := br.ReadSlice('\n')
		n += int64(len(b))
		if !errors.Is(err, bufio.ErrBufferFull) {
			return n
		}
	}
}
