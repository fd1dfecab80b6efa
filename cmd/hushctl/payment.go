package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// paymentVerbs is the table of "payment VERB" subcommands.
var paymentVerbs = []verb{
	{name: "collect", args: "SESSION_ID", npos: 1, help: "print a session's captured card digits on stdout (see its --help first)",
		flags: collectFlags, long: `For PCI-scoped payment clients only: operating and testing a payment
integration. hushd answers only a caller with the payment role (an mTLS
certificate or token mapped to role payment; admin is not enough), and
each digit is delivered once: what this prints is gone from hushd.

The digits are card data. They go to stdout only, one line per message
that carries digits (with --json one protojson CapturedDigits per line,
digits base64 as protojson encodes bytes); never to stderr. Do not
redirect stdout anywhere outside PCI scope: not a log, not a shared
terminal recording, not a file that outlives the test. The stream ends
when secure capture stops ("capture complete" on stderr) or on Ctrl-C.`},
}

// errDigits: a CapturedDigits message held a byte that is not a DTMF key.
// Its text never includes the message's bytes.
var errDigits = errors.New("captured digits: not a DTMF key")

func collectFlags(fs *flag.FlagSet) connAction {
	req := &hushv1.CollectDigitsRequest{}
	fs.StringVar(&req.RequestId, "request-id", "", "request id for hushd's audit trail")
	return func(ctx context.Context, a *app, cc grpc.ClientConnInterface, pos []string) error {
		req.SessionId = pos[0]
		// No deadline: the stream lasts as long as the capture.
		stream, err := hushv1.NewPaymentServiceClient(cc).CollectDigits(ctx, req)
		if err != nil {
			return err
		}
		var line []byte // reused, and zeroed after each write
		defer func() { clear(line) }()
		for { // ends when the server closes the stream or ctx is cancelled
			m, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				if ctx.Err() != nil {
					return nil // interrupted by the user
				}
				return err
			}
			line, err = a.writeDigits(m, line)
			if err != nil {
				return err
			}
			if m.GetComplete() {
				fmt.Fprintln(a.stderr, "capture complete")
			}
		}
	}
}

// writeDigits prints one message's digits to stdout, then zeroes every
// copy hushctl holds: the message's slice and the output line. line is a
// buffer to reuse; the grown one is returned.
func (a *app) writeDigits(m *hushv1.CapturedDigits, line []byte) ([]byte, error) {
	defer clear(m.GetDigits())
	if err := checkDigits(m.GetDigits()); err != nil {
		return line, err
	}
	if a.json {
		b, err := protojson.MarshalOptions{}.Marshal(m)
		if err == nil {
			b = append(b, '\n')
			_, err = a.stdout.Write(b)
		}
		// b holds the digits, base64. (protojson's base64 string on the way is
		// immutable and left to the collector: --json keeps one more copy.)
		clear(b)
		return line, err
	}
	if len(m.GetDigits()) == 0 {
		return line, nil
	}
	line = append(append(line[:0], m.GetDigits()...), '\n')
	_, err := a.stdout.Write(line)
	clear(line)
	return line, err
}

// checkDigits accepts the DTMF keys (RFC 4733 s3.2 events 0-15): 0-9, *,
// #, A-D. Anything else is refused rather than printed, so a faulty or
// hostile server cannot write terminal control sequences to stdout.
func checkDigits(d []byte) error {
	for i, c := range d {
		switch {
		case c >= '0' && c <= '9', c == '*', c == '#', c >= 'A' && c <= 'D':
		default:
			return fmt.Errorf("%w: byte %d of %d", errDigits, i, len(d))
		}
	}
	return nil
}
