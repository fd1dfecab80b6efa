package api

import (
	"sync/atomic"

	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// wipingCodec is the server's codec: protobuf, as gRPC's own, except that a message
// carrying card digits (CapturedDigits) is marshalled into a buffer that is zeroed when
// gRPC frees it. gRPC frees a sent message's buffers once their bytes are written to the
// connection, so the marshalled digits live no longer than the write. (gRPC's own codec
// marshals small messages into plain slices that are never zeroed and stay in the heap
// until the memory is reused.)
//
// Every marshalled CapturedDigits is also padded to digitsMsgSize bytes (see there), so
// that crypto/tls seals the record carrying it in place instead of reallocating.
type wipingCodec struct {
	next  encoding.CodecV2
	wiped atomic.Uint64 // buffers zeroed, for tests
}

func newWipingCodec() *wipingCodec {
	return &wipingCodec{next: encoding.GetCodecV2(protocodec.Name)}
}

// Name keeps the content type gRPC's proto codec uses, so clients see no difference.
func (c *wipingCodec) Name() string { return protocodec.Name }

func (c *wipingCodec) Unmarshal(data mem.BufferSlice, v any) error { return c.next.Unmarshal(data, v) }

func (c *wipingCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(*hushv1.CapturedDigits)
	if !ok {
		return c.next.Marshal(v)
	}
	size := proto.Size(m)
	pad := digitsMsgSize - size - 3 // field tag and a two-byte length
	if pad < 1<<7 || pad >= 1<<14 {
		pad = -1 // cannot be reached with hush's session ids; then no padding
	}
	pool := wipePool{c}
	buf := pool.Get(max(size, digitsMsgSize))
	out, err := proto.MarshalOptions{UseCachedSize: true}.MarshalAppend((*buf)[:0], m)
	if err != nil || len(out) != size {
		pool.Put(buf)
		if err == nil {
			err = errMarshalSize
		}
		return nil, err
	}
	if pad >= 0 {
		out = append(out, padTag, byte(pad)|0x80, byte(pad>>7))
		out = out[:len(out)+pad]
		clear(out[len(out)-pad:])
	}
	*buf = out
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}

// digitsMsgSize is the size of every marshalled CapturedDigits: the message is followed
// by a field 15 (padTag, not in the proto: clients skip it as an unknown field) of zeros.
//
// gRPC writes the message to the tls.Conn in one Write (grpc.WriteBufferSize(0)), and
// crypto/tls (TLS 1.3) copies it into a record buffer taken from a process-wide
// sync.Pool, appends the content type and seals in place, needing 5+n+17 bytes. When the
// pooled buffer is smaller, append reallocates it; if the new buffer still lacks the 17
// bytes, the AEAD reallocates once more and the buffer holding the plaintext message is
// dropped unzeroed to the GC. With the message 1120 bytes, the first reallocation always
// leaves room: 5+1120 = 1125 rounds up to the 1152-byte size class, and 1125+17 <= 1152.
// So an emptied pool (after GCs) or a small pooled buffer no longer leaks the message;
// only a pooled buffer of exactly 1125..1141 bytes could, which TLS 1.3 leaves behind
// only after a chain of records each a few bytes larger than the last.
const digitsMsgSize = 1120

// padTag is field 15, wire type 2 (bytes).
const padTag = 15<<3 | 2

// wipePool hands out buffers large enough that gRPC's mem.NewBuffer reference-counts them
// (it does not for buffers at or below its pooling threshold, and never calls Put for
// those), and zeroes each one on Put instead of reusing it.
type wipePool struct{ c *wipingCodec }

// wipeBufCap is above gRPC's buffer pooling threshold (1 KiB).
const wipeBufCap = 2 << 10

func (p wipePool) Get(length int) *[]byte {
	b := make([]byte, length, max(length, wipeBufCap))
	return &b
}

func (p wipePool) Put(b *[]byte) {
	clear((*b)[:cap(*b)])
	p.c.wiped.Add(1)
}
