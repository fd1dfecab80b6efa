package main

import "time"

// phoneClock paces a sender as a phone's audio clock does: packet i goes at start+i*ptime
// on the monotonic clock, and a packet the starved sender could not send on time goes at
// once, so a stall is jitter the receiver absorbs. (A time.Ticker drops the ticks it missed:
// the stream then falls behind wall clock for good, judges that read the audio by arrival
// see gaps, and the recorder rightly nudges or re-anchors the leg as a drifted sender.)
type phoneClock struct {
	start time.Time
	ptime time.Duration
	tm    *time.Timer
}

// newPhoneClock starts a clock whose packet 0 is due now.
func newPhoneClock(ptime time.Duration) *phoneClock {
	tm := time.NewTimer(time.Hour)
	tm.Stop()
	return &phoneClock{start: time.Now(), ptime: ptime, tm: tm}
}

// at is when packet i is due.
func (c *phoneClock) at(i int) time.Time { return c.start.Add(time.Duration(i) * c.ptime) }

// wait blocks until packet i is due (it returns at once when that has passed) and reports
// true, or false when done is closed first. A nil done never closes.
func (c *phoneClock) wait(done <-chan struct{}, i int) bool {
	select {
	case <-done:
		return false
	default:
	}
	d := time.Until(c.at(i))
	if d <= 0 {
		return true
	}
	c.tm.Reset(d)
	select {
	case <-c.tm.C:
		return true
	case <-done:
		c.tm.Stop()
		return false
	}
}
