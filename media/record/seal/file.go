package seal

import (
	"encoding/binary"
	"fmt"
	"io"
)

// extent is one record: where its payload goes in the plaintext and where
// the record is in the sealed file.
type extent struct {
	off   int64  // plaintext offset
	n     int64  // payload bytes
	at    int64  // file offset of the record
	index uint64 // record index
	final bool
}

// view is the plaintext of a sealed file: its records applied in order.
type view struct {
	src    io.ReaderAt
	key    *Key
	h      Header
	exts   []extent
	size   int64 // plaintext size: the end of the furthest record
	rec    []byte
	plain  []byte
	cached int // index into exts of plain, -1 none
	aadBuf []byte
}

// open reads and authenticates record e into v.plain.
func (v *view) open(i int) ([]byte, error) {
	if v.cached == i {
		return v.plain, nil
	}
	e := v.exts[i]
	n := recHeader + int(e.n) + tagSize
	if cap(v.rec) < n {
		v.rec = make([]byte, n)
	}
	rec := v.rec[:n]
	if k, err := v.src.ReadAt(rec, e.at); k < n && err != nil {
		return nil, fmt.Errorf("read record %d at byte %d: %w", e.index, e.at, err)
	}
	v.aadBuf = aad(v.aadBuf, &v.h, e.index, e.off, e.final)
	plain, err := v.key.aead.Open(v.plain[:0], rec[recHeader-nonceSize:recHeader], rec[recHeader:], v.aadBuf)
	if err != nil {
		v.cached = -1
		return nil, fmt.Errorf("%w: record %d at byte %d", ErrTampered, e.index, e.at)
	}
	v.plain, v.cached = plain, i
	return plain, nil
}

// ReadAt reads plaintext: every record overlapping [off, off+len(p)), in
// order, so a later write wins. Bytes no record wrote read as zeros.
func (v *view) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("seal: negative offset %d", off)
	}
	if off >= v.size {
		return 0, io.EOF
	}
	want := len(p)
	if end := off + int64(len(p)); end > v.size {
		p = p[:v.size-off]
	}
	clear(p)
	end := off + int64(len(p))
	for i := range v.exts {
		e := &v.exts[i]
		if e.n == 0 || e.off >= end || e.off+e.n <= off {
			continue
		}
		plain, err := v.open(i)
		if err != nil {
			return 0, err
		}
		lo, hi := max(e.off, off), min(e.off+e.n, end)
		copy(p[lo-off:hi-off], plain[lo-e.off:hi-e.off])
	}
	if len(p) < want {
		return len(p), io.EOF
	}
	return len(p), nil
}

// Backing is the file a Writer appends sealed records to.
type Backing interface {
	io.WriterAt
	io.ReaderAt
	Sync() error
	Close() error
}

// Writer writes a sealed file: WriteAt appends a record, ReadAt reads the
// plaintext back (decrypting), Finish appends the final record. Not safe
// for concurrent use.
type Writer struct {
	view
	f      Backing
	pos    int64 // where the next record goes
	buf    []byte
	closed bool
}

// NewWriter writes a new sealed file's header to f (at offset 0) and
// returns a writer appending records after it.
func NewWriter(f Backing, key *Key, kind Kind) (*Writer, error) {
	h, err := key.header(kind)
	if err != nil {
		return nil, err
	}
	hb := h.marshal()
	if _, err := f.WriteAt(hb, 0); err != nil {
		return nil, err
	}
	return &Writer{view: view{src: f, key: key, h: h, cached: -1}, f: f, pos: int64(len(hb))}, nil
}

// WriteAt seals p as records (MaxRecord bytes at most each) placed at off
// and appends them.
func (w *Writer) WriteAt(p []byte, off int64) (int, error) {
	if w.closed {
		return 0, ErrClosed
	}
	if off < 0 {
		return 0, fmt.Errorf("seal: negative offset %d", off)
	}
	n := 0
	for len(p) > 0 {
		k := min(len(p), MaxRecord)
		if err := w.append(p[:k], off, false); err != nil {
			return n, err
		}
		p, off, n = p[k:], off+int64(k), n+k
	}
	return n, nil
}

func (w *Writer) append(p []byte, off int64, final bool) error {
	index := uint64(len(w.exts))
	var err error
	w.buf, err = w.key.appendRecord(w.buf[:0], &w.h, index, off, final, p, w.aadBuf)
	if err != nil {
		return err
	}
	if _, err := w.f.WriteAt(w.buf, w.pos); err != nil {
		return err
	}
	w.exts = append(w.exts, extent{off: off, n: int64(len(p)), at: w.pos, index: index, final: final})
	if w.cached == int(index) {
		w.cached = -1
	}
	w.pos += int64(len(w.buf))
	w.size = max(w.size, off+int64(len(p)))
	return nil
}

// Size is the plaintext size.
func (w *Writer) Size() int64 { return w.size }

// FileSize is the sealed file's size.
func (w *Writer) FileSize() int64 { return w.pos }

// Finish appends the final record: from now on a cut is detected.
func (w *Writer) Finish() error {
	if w.closed {
		return ErrClosed
	}
	if err := w.append(nil, w.size, true); err != nil {
		return err
	}
	w.closed = true
	return nil
}

// Sync fsyncs the file.
func (w *Writer) Sync() error { return w.f.Sync() }

// Close closes the file (without Finish: as a crash would leave it).
func (w *Writer) Close() error {
	w.closed = true
	return w.f.Close()
}

// Reader reads a sealed file's plaintext.
type Reader struct {
	view
	final bool
	tail  string // why the file ends without a final record
	hdrN  int    // header bytes
	body  int64  // end of the last good record
}

// Open reads the header of the sealed file r (size bytes), unwraps its data
// key with kr and authenticates every record. recordingID, when not empty,
// must be the header's. A record other than the last that fails is
// ErrTampered (which record, at which byte); a last record that is cut or
// fails is where a crash stopped the writer: the file ends before it (see
// Tail and Complete).
func Open(r io.ReaderAt, size int64, kr Keyring, recordingID string) (*Reader, error) {
	hb := make([]byte, min(size, int64(len(Magic)+2+fileIDSize+3*(2+maxField))))
	if _, err := r.ReadAt(hb, 0); err != nil && err != io.EOF {
		return nil, err
	}
	h, hn, err := ParseHeader(hb)
	if err != nil {
		return nil, err
	}
	key, err := OpenKey(kr, &h, recordingID)
	if err != nil {
		return nil, err
	}
	rd := &Reader{view: view{src: r, key: key, h: h, cached: -1}, hdrN: hn}
	pos := int64(hn)
	var fh [recHeader]byte
	for index := uint64(0); pos < size; index++ {
		if rd.final {
			return nil, fmt.Errorf("%w: %d bytes after the final record, at byte %d", ErrTampered, size-pos, pos)
		}
		cut := func(why string) {
			rd.tail = fmt.Sprintf("record %d at byte %d %s", index, pos, why)
		}
		if size-pos < recHeader {
			cut("is cut short")
			break
		}
		if k, err := r.ReadAt(fh[:], pos); k < len(fh) && err != nil {
			return nil, err
		}
		ctLen := int64(binary.BigEndian.Uint32(fh[0:4]))
		off := int64(binary.BigEndian.Uint64(fh[4:12]))
		final := fh[12] == 1
		end := pos + recHeader + ctLen
		badFrame := ctLen < tagSize || ctLen > MaxRecord+tagSize || off < 0 || off > 1<<40 || fh[12] > 1
		if badFrame || end > size {
			// A crash cuts the record being appended, or leaves the file
			// longer than what reached it (zeros): that is where it ends.
			if end >= size || zeros(r, pos, size) {
				cut("is cut short")
				break
			}
			return nil, fmt.Errorf("%w: record %d at byte %d has a bad frame", ErrTampered, index, pos)
		}
		rd.exts = append(rd.exts, extent{off: off, n: ctLen - tagSize, at: pos, index: index, final: final})
		if _, err := rd.open(len(rd.exts) - 1); err != nil {
			rd.exts = rd.exts[:len(rd.exts)-1]
			if end == size || zeros(r, end, size) {
				cut("fails authentication")
				break
			}
			return nil, err
		}
		rd.final = final
		rd.size = max(rd.size, off+ctLen-tagSize)
		pos = end
		rd.body = end
	}
	if rd.body == 0 {
		rd.body = int64(hn)
	}
	return rd, nil
}

// Header is the file's header.
func (r *Reader) Header() Header { return r.h }

// Key is the file's data key.
func (r *Reader) Key() *Key { return r.key }

// Size is the plaintext size.
func (r *Reader) Size() int64 { return r.size }

// Final reports whether the file ends with its final record.
func (r *Reader) Final() bool { return r.final }

// Records is the number of good records.
func (r *Reader) Records() int { return len(r.exts) }

// Tail says where and why a file without a final record ends ("" when it
// has one, or simply stops after a whole record).
func (r *Reader) Tail() string { return r.tail }

// Complete is nil when the file ends with its final record, else
// ErrTruncated saying where it stops.
func (r *Reader) Complete() error {
	if r.final {
		return nil
	}
	where := r.tail
	if where == "" {
		where = fmt.Sprintf("after record %d, byte %d", len(r.exts), r.body)
	}
	return fmt.Errorf("%w: %s", ErrTruncated, where)
}

// ReadAt reads plaintext (see view.ReadAt).
func (r *Reader) ReadAt(p []byte, off int64) (int, error) { return r.view.ReadAt(p, off) }

// Rewrap copies the sealed file src (size bytes) to dst with its data key
// wrapped by kr's current KEK. The records are copied as they are: they do
// not depend on the header. It returns the old and the new key ids.
func Rewrap(dst io.Writer, src io.ReaderAt, size int64, kr Keyring) (string, string, error) {
	r, err := Open(src, size, kr, "")
	if err != nil {
		return "", "", err
	}
	h := r.h
	oldID := h.KeyID
	dek, err := kr.Unwrap(h.KeyID, h.Wrapped, dekAAD(h.RecordingID))
	if err != nil {
		return "", "", err
	}
	h.KeyID = kr.Current()
	h.Wrapped, err = kr.Wrap(h.KeyID, dek, dekAAD(h.RecordingID))
	clear(dek)
	if err != nil {
		return "", "", err
	}
	if _, err := dst.Write(h.marshal()); err != nil {
		return "", "", err
	}
	if _, err := io.Copy(dst, io.NewSectionReader(src, int64(r.hdrN), size-int64(r.hdrN))); err != nil {
		return "", "", err
	}
	return oldID, h.KeyID, nil
}

// zeros reports whether bytes [from, to) of r are all zero (at most 4 MiB
// are looked at: a longer tail is not a crash's).
func zeros(r io.ReaderAt, from, to int64) bool {
	if to-from > 4<<20 {
		return false
	}
	b := make([]byte, to-from)
	if _, err := r.ReadAt(b, from); err != nil && err != io.EOF {
		return false
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
