package record_test

import (
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/hushmedia/hush/media/record"
)

// A session's life as hushd drives it: repair at start-up, one recorder
// per session fed by the packet loop, pause/resume from the agent, close
// at hangup, QA listing.
func Example() {
	dir, _ := os.MkdirTemp("", "hush-rec")
	defer os.RemoveAll(dir)

	// At start-up: make recordings cut by a crash playable.
	if _, err := record.Repair(dir); err != nil {
		fmt.Println("repair:", err)
	}

	// A controllable clock keeps the example deterministic; hushd uses
	// the default (time.Now).
	start := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	var elapsed atomic.Int64
	clock := record.ClockFunc(func() time.Time { return start.Add(time.Duration(elapsed.Load())) })

	rec, err := record.New(dir, record.Meta{RecordingID: "sess-42", SessionID: "sess-42", CallID: "call-1", AgentID: "agent-7"},
		record.WithClock(clock),
		record.WithInputDelay(80*time.Millisecond), // the mask stage's L_rec
		record.WithOnFailure(func(err error) { fmt.Println("recording failed:", err) }),
	)
	if err != nil {
		fmt.Println("no recording:", err) // the call goes on without one
		return
	}

	pcm := make([]int16, 160) // one 20 ms frame of masked PCM
	for k := 0; k < 150; k++ {
		elapsed.Add(int64(20 * time.Millisecond))
		// From the packet goroutines: never blocks, never allocates.
		rec.Write(record.LegCustomer, 0x1234, uint32(k*160), pcm)
		rec.Write(record.LegAgent, 0x5678, uint32(90000+k*160), pcm)
		switch k {
		case 50:
			rec.Pause(record.PauseSkip, record.Action{Actor: "agent-7", RequestID: "r-1", Reason: "card payment"})
		case 100:
			rec.Resume(record.Action{Actor: "agent-7", RequestID: "r-2"})
		}
	}
	if err := rec.Close(); err != nil {
		fmt.Println("close:", err)
	}

	list, _ := record.List(dir)
	for _, sc := range list {
		fmt.Println(sc.RecordingID, sc.Status, sc.DurationSamples, "timeline samples,", sc.FileSamples, "in the file")
		for _, p := range sc.Pauses {
			fmt.Println("pause", p.Behavior, p.StartSample, p.EndSample, "by", p.Actor)
		}
	}
	// Output:
	// sess-42 complete 24000 timeline samples, 16000 in the file
	// pause skip 8160 16160 by agent-7
}
