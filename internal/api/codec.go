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
	pool := wipePool{c}
	buf := pool.Get(size)
	out, err := proto.MarshalOptions{UseCachedSize: true}.MarshalAppend((*buf)[:0], m)
	if err != nil || len(out) != size {
		pool.Put(buf)
		if err == nil {
			err = errMarshalSize
		}
		return nil, err
	}
	*buf = out
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}

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
