package offeranswer

import "github.com/hushmedia/hush/internal/session"

// rtpengine's media switches (block media, silence media): each is on for the whole
// call or for one participant, and a direction is blocked when the call's switch or its
// sending party's is on; blocking wins over silence. Unblocking the whole call leaves a
// party blocked on its own unless the request says all (rtpengine's "all" flag). The
// switches live with the call; what they add up to is each direction's flow in the
// session's policy, which is what the packet loop, GetSession and the events see.

// MediaSwitch names one of the switches.
type MediaSwitch int

// The switches.
const (
	SwitchBlock MediaSwitch = iota
	SwitchSilence
	numSwitches
)

// mediaSwitches is one switch's state: the call's and each party's, by leg.
type mediaSwitches struct {
	call  bool
	party [2]bool
}

// SwitchChange is one block, unblock, silence or unsilence media request.
type SwitchChange struct {
	CallID string
	Switch MediaSwitch
	On     bool
	// Party is the participant whose media it concerns (rtpengine's selected monologue:
	// the media it sends); nil: the whole call.
	Party *session.Leg
	// All, turning a switch off for the whole call, turns it off for each party too.
	All   bool
	Actor string
}

// SetSwitch changes one of a call's media switches and applies what the switches add up
// to. Nothing changes when the session refuses the result.
func (e *Engine) SetSwitch(sc SwitchChange) (session.Info, error) {
	if sc.Switch < 0 || sc.Switch >= numSwitches {
		return session.Info{}, ErrInvalid
	}
	c, _ := e.acquire(sc.CallID, false)
	if c == nil {
		return session.Info{}, ErrUnknownCall
	}
	defer c.mu.Unlock()
	next := c.switches
	sw := &next[sc.Switch]
	switch {
	case sc.Party != nil:
		sw.party[*sc.Party] = sc.On
	default:
		sw.call = sc.On
		if !sc.On && sc.All {
			sw.party = [2]bool{}
		}
	}
	var u session.Update
	u.Actor = sc.Actor
	for l := range 2 {
		f := session.FlowForward
		switch {
		case next[SwitchBlock].call || next[SwitchBlock].party[l]:
			f = session.FlowBlock
		case next[SwitchSilence].call || next[SwitchSilence].party[l]:
			f = session.FlowSilence
		}
		u.Flows[session.Direction(l)] = &f // the direction the party at leg l sends
	}
	info, err := e.cfg.Registry.Update(c.sessionID, u)
	if err != nil {
		return session.Info{}, err
	}
	c.switches = next
	return info, nil
}
