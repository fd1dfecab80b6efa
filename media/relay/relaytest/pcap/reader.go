package pcap

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"
)

// Link types (tcpdump.org/linktypes.html).
const (
	LinkNull     = 0
	LinkEthernet = 1
	LinkRaw      = 101
	LinkLinuxSLL = 113
	LinkIPv4     = 228
	LinkIPv6     = 229
	LinkSLL2     = 276
)

// maxRecord bounds one record, far above any real snaplen, so a corrupt length cannot make
// the reader allocate gigabytes.
const maxRecord = 1 << 18

// Reader reads records from a pcap stream.
type Reader struct {
	r        io.Reader
	order    binary.ByteOrder
	nano     bool
	LinkType uint32
	hdr      [16]byte
	buf      []byte
}

// Record is one captured frame. Data is valid until the next call to Next.
type Record struct {
	Time time.Time
	Data []byte
}

// NewReader reads the global header.
func NewReader(r io.Reader) (*Reader, error) {
	var h [24]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("%w: global header: %v", ErrTruncated, err)
	}
	rd := &Reader{r: r}
	switch binary.LittleEndian.Uint32(h[0:4]) {
	case 0xa1b2c3d4:
		rd.order = binary.LittleEndian
	case 0xa1b23c4d:
		rd.order, rd.nano = binary.LittleEndian, true
	case 0xd4c3b2a1:
		rd.order = binary.BigEndian
	case 0x4d3cb2a1:
		rd.order, rd.nano = binary.BigEndian, true
	default:
		return nil, ErrBadMagic
	}
	rd.LinkType = rd.order.Uint32(h[20:24]) & 0x0fffffff // upper bits are FCS info
	return rd, nil
}

// Next returns the next record, or io.EOF after the last one.
func (rd *Reader) Next() (Record, error) {
	if _, err := io.ReadFull(rd.r, rd.hdr[:]); err != nil {
		if err == io.EOF {
			return Record{}, io.EOF
		}
		return Record{}, fmt.Errorf("%w: record header: %v", ErrTruncated, err)
	}
	sec := rd.order.Uint32(rd.hdr[0:4])
	frac := rd.order.Uint32(rd.hdr[4:8])
	incl := rd.order.Uint32(rd.hdr[8:12])
	if incl > maxRecord {
		return Record{}, fmt.Errorf("%w: %d bytes", ErrTooLarge, incl)
	}
	if cap(rd.buf) < int(incl) {
		rd.buf = make([]byte, incl)
	}
	rd.buf = rd.buf[:incl]
	if _, err := io.ReadFull(rd.r, rd.buf); err != nil {
		return Record{}, fmt.Errorf("%w: record data: %v", ErrTruncated, err)
	}
	ns := int64(frac) * 1000
	if rd.nano {
		ns = int64(frac)
	}
	return Record{Time: time.Unix(int64(sec), ns).UTC(), Data: rd.buf}, nil
}
