//go:build linux && (amd64 || arm64)

package udpio

import (
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A minimal io_uring binding over raw system calls (linux/io_uring.h), just
// what the io_uring engine needs: set-up, ring access, one provided buffer
// ring, and enter with a timeout. The Go io_uring libraries are not
// available here, and this is small.

const (
	uringOffSQRing = 0
	uringOffCQRing = 0x8000000
	uringOffSQEs   = 0x10000000

	uringFeatSingleMmap = 1 << 0
	uringFeatNoDrop     = 1 << 1
	uringFeatExtArg     = 1 << 8

	uringSetupSingleIssuer = 1 << 12
	uringSetupDeferTaskrun = 1 << 13

	uringEnterGetEvents = 1 << 0
	uringEnterExtArg    = 1 << 3

	uringOpPollAdd     = 6
	uringOpSendmsg     = 9
	uringOpRecvmsg     = 10
	uringOpAsyncCancel = 14

	uringSqeBufferSelect = 1 << 5
	uringRecvMultishot   = 1 << 1 // in sqe.ioprio
	uringPollAddMulti    = 1 << 0 // in sqe.len

	uringCQEFBuffer     = 1 << 0
	uringCQEFMore       = 1 << 1
	uringCQEBufferShift = 16

	uringRegisterPbufRing = 22
)

type uringSQOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type uringCQOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  uringSQOffsets
	cqOff                                                                  uringCQOffsets
}

// uringSQE is struct io_uring_sqe (64 bytes).
type uringSQE struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	opFlags     uint32
	userData    uint64
	bufIndex    uint16 // buf_group with IOSQE_BUFFER_SELECT
	personality uint16
	spliceFDIn  int32
	addr3       uint64
	_           uint64
}

// uringCQE is struct io_uring_cqe (16 bytes).
type uringCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

// uringRecvmsgOut is struct io_uring_recvmsg_out: the head of each buffer a
// multishot recvmsg fills, followed by the name, the control data and the
// payload.
type uringRecvmsgOut struct {
	namelen, controllen, payloadlen, flags uint32
}

type uringBufReg struct {
	ringAddr    uint64
	ringEntries uint32
	bgid        uint16
	flags       uint16
	_           [3]uint64
}

type uringGeteventsArg struct {
	sigmask   uint64
	sigmaskSz uint32
	_         uint32
	ts        uint64
}

// uring is one ring.
type uring struct {
	fd       int
	ringMem  []byte // SQ and CQ rings (one mapping: IORING_FEAT_SINGLE_MMAP)
	sqeMem   []byte
	sqHead   *uint32
	sqTail   *uint32
	sqMask   uint32
	sqArray  unsafe.Pointer
	sqes     unsafe.Pointer
	sqLocal  uint32 // our tail, published on flush
	sqFlushd uint32 // last published tail
	cqHead   *uint32
	cqTail   *uint32
	cqMask   uint32
	cqes     unsafe.Pointer
}

// newURing sets up a ring for the calling thread alone (see uringWorker.run),
// with deferred task work where the kernel offers it (Linux 6.1).
func newURing(entries uint32) (*uring, error) {
	var p uringParams
	p.flags = uringSetupSingleIssuer | uringSetupDeferTaskrun
	fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if e == unix.EINVAL {
		p = uringParams{}
		fd, _, e = unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	}
	if e != 0 {
		return nil, fmt.Errorf("%w: io_uring_setup: %v", ErrUnavailable, e)
	}
	r := &uring{fd: int(fd)}
	need := uint32(uringFeatSingleMmap | uringFeatNoDrop | uringFeatExtArg)
	if p.features&need != need {
		r.close()
		return nil, fmt.Errorf("%w: io_uring features %#x lack %#x", ErrUnavailable, p.features, need)
	}
	size := max(p.sqOff.array+p.sqEntries*4, p.cqOff.cqes+p.cqEntries*uint32(unsafe.Sizeof(uringCQE{})))
	mem, err := unix.Mmap(r.fd, uringOffSQRing, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		r.close()
		return nil, fmt.Errorf("%w: mmap rings: %v", ErrUnavailable, err)
	}
	r.ringMem = mem
	sqes, err := unix.Mmap(r.fd, uringOffSQEs, int(p.sqEntries)*int(unsafe.Sizeof(uringSQE{})),
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		r.close()
		return nil, fmt.Errorf("%w: mmap sqes: %v", ErrUnavailable, err)
	}
	r.sqeMem = sqes
	base := unsafe.Pointer(&mem[0])
	r.sqHead = (*uint32)(unsafe.Add(base, p.sqOff.head))
	r.sqTail = (*uint32)(unsafe.Add(base, p.sqOff.tail))
	r.sqMask = *(*uint32)(unsafe.Add(base, p.sqOff.ringMask))
	r.sqArray = unsafe.Add(base, p.sqOff.array)
	r.sqes = unsafe.Pointer(&sqes[0])
	r.cqHead = (*uint32)(unsafe.Add(base, p.cqOff.head))
	r.cqTail = (*uint32)(unsafe.Add(base, p.cqOff.tail))
	r.cqMask = *(*uint32)(unsafe.Add(base, p.cqOff.ringMask))
	r.cqes = unsafe.Add(base, p.cqOff.cqes)
	r.sqLocal = atomic.LoadUint32(r.sqTail)
	r.sqFlushd = r.sqLocal
	return r, nil
}

func (r *uring) close() {
	if r.sqeMem != nil {
		unix.Munmap(r.sqeMem)
	}
	if r.ringMem != nil {
		unix.Munmap(r.ringMem)
	}
	unix.Close(r.fd)
}

// sqe returns a zeroed submission entry, submitting what is queued first if
// the queue is full. It reports nil only when the kernel takes nothing.
func (r *uring) sqe() *uringSQE {
	for range 2 {
		head := atomic.LoadUint32(r.sqHead)
		if r.sqLocal-head <= r.sqMask {
			idx := r.sqLocal & r.sqMask
			*(*uint32)(unsafe.Add(r.sqArray, idx*4)) = idx
			e := (*uringSQE)(unsafe.Add(r.sqes, uintptr(idx)*unsafe.Sizeof(uringSQE{})))
			*e = uringSQE{}
			r.sqLocal++
			return e
		}
		r.enter(0, -1)
	}
	return nil
}

// pending is the number of entries queued and not yet submitted.
func (r *uring) pending() uint32 { return r.sqLocal - r.sqFlushd }

// enter submits the queued entries and, with minComplete > 0, waits until
// that many completions are ready or timeoutNs passes (-1: no timeout).
func (r *uring) enter(minComplete uint32, timeoutNs int64) {
	atomic.StoreUint32(r.sqTail, r.sqLocal)
	toSubmit := r.pending()
	r.sqFlushd = r.sqLocal
	if minComplete == 0 {
		if toSubmit == 0 {
			return
		}
		// Submission alone does not wait for the network: a raw call.
		unix.RawSyscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit), 0, 0, 0, 0)
		return
	}
	var ts unix.Timespec
	arg := uringGeteventsArg{}
	if timeoutNs >= 0 {
		ts = unix.NsecToTimespec(timeoutNs)
		arg.ts = uint64(uintptr(unsafe.Pointer(&ts)))
	}
	if rawWait(time.Duration(timeoutNs)) {
		unix.RawSyscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit), uintptr(minComplete),
			uringEnterGetEvents|uringEnterExtArg, uintptr(unsafe.Pointer(&arg)), unsafe.Sizeof(arg))
		return
	}
	unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit), uintptr(minComplete),
		uringEnterGetEvents|uringEnterExtArg, uintptr(unsafe.Pointer(&arg)), unsafe.Sizeof(arg))
	// ETIME, EINTR and EBUSY all mean: look at the completion queue.
}

// getEvents submits what is queued and, without waiting, runs the deferred
// task work, so the completions of what has already arrived are posted.
func (r *uring) getEvents() {
	atomic.StoreUint32(r.sqTail, r.sqLocal)
	toSubmit := r.pending()
	r.sqFlushd = r.sqLocal
	unix.RawSyscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit), 0, uringEnterGetEvents, 0, 0)
}

// ready is the number of completions waiting.
func (r *uring) ready() uint32 {
	return atomic.LoadUint32(r.cqTail) - atomic.LoadUint32(r.cqHead)
}

// cqe returns the i-th waiting completion (i < ready()).
func (r *uring) cqe(i uint32) *uringCQE {
	idx := (atomic.LoadUint32(r.cqHead) + i) & r.cqMask
	return (*uringCQE)(unsafe.Add(r.cqes, uintptr(idx)*unsafe.Sizeof(uringCQE{})))
}

// consume releases n completions to the kernel.
func (r *uring) consume(n uint32) {
	atomic.StoreUint32(r.cqHead, atomic.LoadUint32(r.cqHead)+n)
}

// bufRing is a provided buffer ring (IORING_REGISTER_PBUF_RING, Linux
// 5.19): buffers the kernel picks from for multishot receives. The ring and
// the buffers are anonymous mappings, outside Go's heap.
type bufRing struct {
	ringMem []byte
	bufMem  []byte
	entries uint32
	size    uint32
	tail    uint16 // local; published by publish
}

func newBufRing(r *uring, bgid uint16, entries, size uint32) (*bufRing, error) {
	b := &bufRing{entries: entries, size: size}
	var err error
	if b.ringMem, err = unix.Mmap(-1, 0, int(entries)*16, unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_ANONYMOUS|unix.MAP_PRIVATE|unix.MAP_POPULATE); err != nil {
		return nil, fmt.Errorf("%w: mmap buffer ring: %v", ErrUnavailable, err)
	}
	// Populated now: the kernel's first write into each buffer would
	// otherwise fault, inside the worker's io_uring_enter.
	if b.bufMem, err = unix.Mmap(-1, 0, int(entries*size), unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_ANONYMOUS|unix.MAP_PRIVATE|unix.MAP_POPULATE); err != nil {
		unix.Munmap(b.ringMem)
		return nil, fmt.Errorf("%w: mmap buffers: %v", ErrUnavailable, err)
	}
	reg := uringBufReg{ringAddr: uint64(uintptr(unsafe.Pointer(&b.ringMem[0]))), ringEntries: entries, bgid: bgid}
	if _, _, e := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), uringRegisterPbufRing,
		uintptr(unsafe.Pointer(&reg)), 1, 0, 0); e != 0 {
		b.free()
		return nil, fmt.Errorf("%w: register buffer ring: %v", ErrUnavailable, e)
	}
	for i := range entries {
		b.put(uint16(i))
	}
	b.publish()
	return b, nil
}

func (b *bufRing) free() {
	unix.Munmap(b.bufMem)
	unix.Munmap(b.ringMem)
}

// buf is buffer id's memory.
func (b *bufRing) buf(id uint16) []byte {
	off := uint32(id) * b.size
	return b.bufMem[off : off+b.size : off+b.size]
}

// put queues buffer id for the kernel (visible after publish).
func (b *bufRing) put(id uint16) {
	e := unsafe.Pointer(&b.ringMem[uint32(b.tail)&(b.entries-1)*16])
	*(*uint64)(e) = uint64(uintptr(unsafe.Pointer(&b.bufMem[uint32(id)*b.size])))
	*(*uint32)(unsafe.Add(e, 8)) = b.size
	*(*uint16)(unsafe.Add(e, 12)) = id
	b.tail++
}

// publish makes the put buffers visible: the ring's tail is the u16 at
// offset 14 of its first entry.
func (b *bufRing) publish() {
	p := (*uint32)(unsafe.Pointer(&b.ringMem[12])) // bid of entry 0 and tail, one aligned word
	for {
		old := atomic.LoadUint32(p)
		if atomic.CompareAndSwapUint32(p, old, old&0xffff|uint32(b.tail)<<16) {
			return
		}
	}
}
