package relaytest

import "errors"

// ErrNoPorts is returned when no free block is left on the host.
var ErrNoPorts = errors.New("relaytest: no free media port block")
