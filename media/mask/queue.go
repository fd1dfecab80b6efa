package mask

// poolQueue is a FIFO queue over a fixed pool of poolSize buffers (the
// delay line's slots, the recording tap's frames), kept as indices. Free
// buffers are a stack, so the most recently freed one is reused first: at
// 20 ms packets and L = 60 ms a stream cycles through four or five buffers
// that stay in cache, where a ring would cycle through all of them (tens
// of kilobytes per stream; with a thousand streams, a cache miss on every
// write of every packet).
type poolQueue struct {
	head, size, nfree int
	order             [poolSize]uint8 // buffer indices in queue order, from head
	free              [poolSize]uint8 // free buffer indices, most recently freed on top
}

// poolSize is the number of buffers a poolQueue manages.
const poolSize = 32

// reset empties the queue and frees every buffer.
func (q *poolQueue) reset() {
	q.head, q.size = 0, 0
	for i := range q.free {
		q.free[i] = uint8(poolSize - 1 - i)
	}
	q.nfree = poolSize
}

func (q *poolQueue) full() bool { return q.size == poolSize }

// push appends a free buffer to the queue and returns its index; the queue
// is not full.
func (q *poolQueue) push() int {
	q.nfree--
	i := q.free[q.nfree]
	q.order[(q.head+q.size)%poolSize] = i
	q.size++
	return int(i)
}

// unpush takes back the buffer push just returned.
func (q *poolQueue) unpush() {
	q.size--
	q.free[q.nfree] = q.order[(q.head+q.size)%poolSize]
	q.nfree++
}

// front is the index of the oldest queued buffer; the queue is not empty.
func (q *poolQueue) front() int { return int(q.order[q.head]) }

// second is the index of the second oldest queued buffer; the queue holds
// two or more.
func (q *poolQueue) second() int { return int(q.order[(q.head+1)%poolSize]) }

// pop removes the oldest buffer from the queue, frees it and returns its
// index. Its contents stay as they are until the next push.
func (q *poolQueue) pop() int {
	i := q.order[q.head]
	q.head = (q.head + 1) % poolSize
	q.size--
	q.free[q.nfree] = i
	q.nfree++
	return int(i)
}
