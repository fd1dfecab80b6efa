package api

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// The marshalled bytes of a CapturedDigits are zeroed when gRPC frees them; other
// messages go through gRPC's own proto codec unchanged.
func TestWipingCodec(t *testing.T) {
	c := newWipingCodec()
	msg := &hushv1.CapturedDigits{SessionId: "s-1", Digits: []byte("7")}
	out, err := c.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := proto.Marshal(msg)
	data := out[0].ReadOnlyData()
	if got := out.Materialize(); len(got) != digitsMsgSize || !bytes.HasPrefix(got, want) {
		t.Fatalf("marshalled %d bytes %x..., want %d bytes starting %x", len(got), got[:min(len(got), 32)], digitsMsgSize, want)
	}
	var client hushv1.CapturedDigits // the padding is an unknown field to a client
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(out.Materialize(), &client); err != nil || !proto.Equal(&client, msg) {
		t.Fatalf("client sees %v (%v), want %v", &client, err, msg)
	}
	out.Free()
	if c.wiped.Load() != 1 || bytes.ContainsAny(data, "s-17") {
		t.Fatalf("after Free: wiped %d buffers, bytes %x", c.wiped.Load(), data)
	}

	other, err := c.Marshal(&hushv1.Session{SessionId: "s-1"})
	if err != nil {
		t.Fatal(err)
	}
	var back hushv1.Session
	if err := c.Unmarshal(other, &back); err != nil || back.SessionId != "s-1" {
		t.Fatalf("round trip: %v %v", &back, err)
	}
	other.Free()
	if c.wiped.Load() != 1 {
		t.Error("a message without digits went through the wiping pool")
	}
}
