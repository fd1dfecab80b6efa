package loadgen

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hushmedia/hush/media/srtp"
)

// period is the packetization time of every stream: 20 ms of G.711 (RFC 3551 section 4.5).
const period = 20 * time.Millisecond

// media sends and receives the streams of all calls. Stream 2i is call i's customer -> agent
// direction (sent from the customer socket to the relay's customer-side port, received on
// the agent socket), 2i+1 is agent -> customer.
type media struct {
	start     time.Time
	ssrcBase  uint32
	nStreams  uint32
	cust      []*net.UDPConn // K sockets per side; call i uses index i%K
	agent     []*net.UDPConn
	dest      []sockaddr // per stream: the relay's port to send to
	periods   int        // packets per stream
	rx        []streamRx // per stream, owned by the one receiver of its socket
	recv      []*receiver
	measure   atomic.Bool // latency is recorded only in the measurement window
	hogging   atomic.Bool // a hog runs (Config.Hog): latency is also recorded apart
	senders   int
	sendErrs  atomic.Uint64
	sent      atomic.Uint64
	tones     *toneTable    // DTMF bursts; nil = none
	audio     *payloadAudio // payload shaping (Config.Audio); nil = AudioBurst
	toneEvery int           // periods between bursts
	setupErr  atomic.Bool   // a socket could not be driven (reported, the run is invalid)
	// crypto is every stream's SRTP contexts (Config.SRTP); nil: plain RTP.
	crypto *streamCrypto
	// winSeq is the first sequence number sent in the measurement window, and hogSeq
	// the range [hogSeq[0], hogSeq[1]) sent while the hog is to run (empty without
	// one): the packets that loss in the window and during the hog are counted of.
	winSeq uint32
	hogSeq [2]uint32
	// lookAhead per direction (ns): the delay a masked direction is configured with,
	// subtracted before its latency is recorded; 0 = unmasked.
	lookAhead [2]int64
}

// streamRx is the receive state of one stream.
type streamRx struct {
	received  uint64
	inWindow  uint64 // received with a sequence number of the window (media.winSeq)
	inHog     uint64 // received with one of media.hogSeq
	maxSeq    uint32
	seen      bool
	reordered uint64
	gaps      uint32 // jumps forward in sequence (loss, or reordering about to happen)
	firstGap  uint32 // 1 + the first sequence number missing at a jump; 0 = none
	// RFC 3550 section 6.4.1 jitter, kept as 16*J in ns like appendix A.8 does, for three
	// transit definitions: receive vs schedule, send vs schedule, receive vs send.
	jitter    [3]int64
	prevTrans [3]int64
	jitterOK  bool
}

// receiver reads one socket.
type receiver struct {
	m     *media
	conn  *net.UDPConn
	side  uint32 // stream direction it receives: 0 on agent sockets, 1 on customer sockets
	index int    // socket index: it receives streams of calls i with i%K == index
	count atomic.Uint64
	lat   Histogram // latency, look-ahead included
	// beyond is latency minus the direction's look-ahead (the relay's own added delay);
	// early counts packets of a masked direction that arrived sooner than the look-ahead.
	beyond Histogram
	// hogLat and hogBeyond are lat and beyond for the packets received while a hog ran.
	hogLat    Histogram
	hogBeyond Histogram
	// rxLag is how long datagrams waited in the socket, after the kernel queued them,
	// before this receiver read them: the generator's own scheduling delay, left out of lat.
	rxLag     Histogram
	early     uint64
	foreign   uint64
	misrouted uint64
	rewritten uint64
	tones     uint64
	srtpBad   uint64   // SRTP packets that did not authenticate or were replays
	_         [64]byte // keep hot counters of receivers on separate cache lines
}

// openSockets binds k UDP sockets per side on addr with large receive buffers, so bursts
// from the relay are not lost in the generator.
func openSockets(addr netip.Addr, k int) (cust, agent []*net.UDPConn, err error) {
	for range k {
		for _, side := range []*[]*net.UDPConn{&cust, &agent} {
			c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)))
			if err != nil {
				closeAll(cust)
				closeAll(agent)
				return nil, nil, err
			}
			setBuffers(c, 8<<20)
			*side = append(*side, c)
		}
	}
	return cust, agent, nil
}

// setBuffers asks for n-byte socket buffers, past net.core.rmem_max when privileged
// (SO_RCVBUFFORCE, socket(7)), else as large as the limit allows.
func setBuffers(c *net.UDPConn, n int) {
	_ = c.SetReadBuffer(n)
	_ = c.SetWriteBuffer(n)
	forceBuffers(c, n)
}

func closeAll(cs []*net.UDPConn) {
	for _, c := range cs {
		_ = c.Close()
	}
}

func addrOf(c *net.UDPConn) netip.AddrPort {
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// startReceivers starts one goroutine per socket; they end when the sockets close.
func (m *media) startReceivers(wg *sync.WaitGroup) {
	for i, c := range m.agent {
		m.recv = append(m.recv, &receiver{m: m, conn: c, side: 0, index: i})
	}
	for i, c := range m.cust {
		m.recv = append(m.recv, &receiver{m: m, conn: c, side: 1, index: i})
	}
	for _, r := range m.recv {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.loop()
		}()
	}
}

func (r *receiver) loop() {
	br, err := newBatchReader(r.conn, 64)
	if err != nil {
		r.m.setupErr.Store(true)
		return
	}
	for {
		n, err := br.read()
		if err != nil {
			if errTransient(err) {
				continue
			}
			if !errors.Is(err, net.ErrClosed) {
				r.m.setupErr.Store(true)
			}
			return
		}
		t := time.Now()
		now, wall := int64(t.Sub(r.m.start)), t.UnixNano()
		for i := range n {
			// A datagram counts as received when the kernel queued it on the socket, not
			// when this goroutine got to read it: on a busy host the generator's own wait
			// for the processor is not the relay's latency. That wait is kept apart (rxLag).
			at := now
			if k := br.rxTime(i); k > 0 && k <= wall {
				at = now - (wall - k)
				if r.m.measure.Load() {
					r.rxLag.Record(wall - k)
				}
			}
			r.handle(br.datagram(i), at)
		}
	}
}

// handle accounts one datagram received at now (ns since the start).
func (r *receiver) handle(b []byte, now int64) {
	if sc := r.m.crypto; sc != nil && len(b) >= rtpHeaderLen {
		s := binary.BigEndian.Uint32(b[8:]) - r.m.ssrcBase
		if s >= r.m.nStreams {
			r.foreign++
			return
		}
		dec, v := sc.in[s].UnprotectRTP(b)
		if v != srtp.OK {
			r.srtpBad++
			return
		}
		b = dec
	}
	if r.m.audio != nil {
		r.m.audio.decode(b)
	}
	h, ok, err := parsePacket(b, r.m.ssrcBase, r.m.nStreams)
	if err != nil {
		r.foreign++
		return
	}
	if h.stream&1 != r.side || (h.stream/2)%uint32(len(r.m.cust)) != uint32(r.index) {
		r.misrouted++
		return
	}
	r.count.Add(1)
	st := &r.m.rx[h.stream]
	st.received++
	if h.seq >= r.m.winSeq {
		st.inWindow++
	}
	if h.seq >= r.m.hogSeq[0] && h.seq < r.m.hogSeq[1] {
		st.inHog++
	}
	if h.tone {
		r.tones++
		return
	}
	if !ok {
		r.rewritten++
		return // payload rewritten: counted, no latency or jitter
	}
	if st.seen && h.seq <= st.maxSeq {
		st.reordered++
	} else {
		expect := uint32(0)
		if st.seen {
			expect = st.maxSeq + 1
		}
		if h.seq > expect {
			st.gaps++
			if st.firstGap == 0 {
				st.firstGap = expect + 1
			}
		}
		st.maxSeq, st.seen = h.seq, true
	}
	sched := int64(h.seq) * int64(period)
	trans := [3]int64{now - sched, h.sendNs - sched, now - h.sendNs}
	// Jitter over the measurement window only, like latency: a masked stream's last
	// packets wait the masker's stall grace for audio that never comes after the senders
	// stop, and one 80 ms step would dominate the smoothed figure at the end of the run.
	if st.jitterOK && r.m.measure.Load() {
		for j := range trans {
			d := trans[j] - st.prevTrans[j]
			if d < 0 {
				d = -d
			}
			st.jitter[j] += d - (st.jitter[j]+8)/16 // RFC 3550 A.8: J += (|D| - J)/16, scaled by 16
		}
	}
	st.prevTrans, st.jitterOK = trans, true
	if r.m.measure.Load() {
		d := now - h.sendNs
		r.lat.Record(d)
		b := d - r.m.lookAhead[r.side]
		if b < -earlyTolerance {
			r.early++
		}
		r.beyond.Record(max(b, 0))
		if r.m.hogging.Load() {
			r.hogLat.Record(d)
			r.hogBeyond.Record(max(b, 0))
		}
	}
}

// earlyTolerance is how much sooner than the look-ahead a masked packet may arrive before
// it counts as early: a relay may release a packet slightly before its due time to ride
// on an arrival instead of a timer wake-up (hushd: up to 0.5 ms).
const earlyTolerance = int64(time.Millisecond)

// received is the number of load packets all receivers counted so far.
func (m *media) received() uint64 {
	var n uint64
	for _, r := range m.recv {
		n += r.count.Load()
	}
	return n
}

// runSenders paces all streams: sender g owns the streams s with s%senders == g; stream s
// sends at phase s*period/nStreams within every period, so the load is spread evenly over
// the period rather than sent in bursts on a tick. A sender wakes every millisecond and
// sends what is due (late sends go out at once; their real send time is in the packet).
// It returns when every stream has sent m.periods packets or stop closes.
func (m *media) runSenders(base time.Duration, stop <-chan struct{}) {
	var wg sync.WaitGroup
	for g := range m.senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.sendLoop(g, base, stop)
		}()
	}
	wg.Wait()
}

// sendBatch bounds a sendmmsg batch: every packet of a batch carries the time it was
// written, and the last one leaves after the others, so a large batch would add its own
// duration to the measured latency.
const sendBatch = 8

func (m *media) sendLoop(g int, base time.Duration, stop <-chan struct{}) {
	var streams []uint32
	for s := uint32(g); s < m.nStreams; s += uint32(m.senders) {
		streams = append(streams, s)
	}
	if len(streams) == 0 {
		return
	}
	k := uint32(len(m.cust))
	// One writer per generator socket: [0,k) customer sockets, [k,2k) agent sockets.
	writers := make([]*batchWriter, 2*k)
	for i := range writers {
		c := m.cust[uint32(i)%k]
		if uint32(i) >= k {
			c = m.agent[uint32(i)-k]
		}
		w, err := newBatchWriter(c, sendBatch)
		if err != nil {
			m.setupErr.Store(true)
			return
		}
		writers[i] = w
	}
	flush := func(w *batchWriter) {
		if failed, err := w.flush(); err != nil || failed > 0 {
			m.sendErrs.Add(uint64(max(failed, 1)))
		}
	}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	cursor, p := 0, 0
	var plain [packetLen]byte
	var sent uint64
	defer func() { m.sent.Add(sent) }()
	for p < m.periods {
		now := time.Since(m.start)
		for p < m.periods {
			s := streams[cursor]
			due := base + time.Duration(p)*period + time.Duration(int64(s)*int64(period)/int64(m.nStreams))
			if due > now {
				break
			}
			w := writers[(s/2)%k+(s&1)*k]
			if w.full() {
				flush(w)
			}
			size := packetLen
			if m.crypto != nil {
				size += m.crypto.out[s].Trailer()
			}
			b := w.next(&m.dest[s], size)
			if m.crypto != nil {
				b = plain[:] // written here, protected into the batch below
			}
			if d, fr, tone := toneAt(s, p, m.toneEvery, int(m.nStreams/2)); tone && m.tones != nil {
				writeTonePacket(b, m.tones, m.ssrcBase, s, uint32(p), d, fr)
			} else {
				writePacket(b, m.ssrcBase, s, uint32(p), int64(time.Since(m.start)))
				if m.audio != nil {
					m.audio.encode(b, s, uint32(p))
				}
			}
			if m.crypto != nil {
				if _, v := m.crypto.out[s].ProtectRTP(w.last()[:0], b); v != srtp.OK {
					m.sendErrs.Add(1)
				}
			}
			sent++
			if cursor++; cursor == len(streams) {
				cursor, p = 0, p+1
			}
		}
		for _, w := range writers {
			flush(w)
		}
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}
