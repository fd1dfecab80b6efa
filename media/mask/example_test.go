package mask_test

import (
	"fmt"
	"time"

	"github.com/hushmedia/hush/media/mask"
	"github.com/hushmedia/hush/media/rtp"
)

// A masked direction: push each packet on arrival, pop what is due.
func Example() {
	codecs := mask.DefaultCodecs()
	if err := codecs.Set(101, "telephone-event/8000"); err != nil {
		panic(err)
	}
	k := mask.New(mask.WithDigits(func(d mask.Digit) { fmt.Println("captured", d) }))
	k.Configure(mask.Policy{Mode: mask.ModeTone, Capture: true}, &codecs)

	pkt := make([]byte, 12+160) // a 20 ms PCMU packet of silence
	h := rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 1, Timestamp: 160, SSRC: 7}
	h.MarshalTo(pkt)
	for i := range pkt[12:] {
		pkt[12+i] = 0xFF
	}
	h.Unmarshal(pkt)

	fmt.Println(k.Push(&h, pkt, 0))
	_, ok := k.Pop(10 * time.Millisecond)
	fmt.Println("released at 10 ms:", ok)
	// No later samples have come to decide about this packet's last ones,
	// so it is due at L (60 ms) plus StallGrace (80 ms) unless more come.
	due, _ := k.NextDue()
	fmt.Println("due:", due)
	out, ok := k.Drain()
	fmt.Println("drained:", ok, len(out))
	// Output:
	// queued
	// released at 10 ms: false
	// due: 140ms
	// drained: true 172
}
