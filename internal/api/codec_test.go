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
	if !bytes.Equal(out.Materialize(), want) {
		t.Fatalf("marshalled %x, want %x", out.Materialize(), want)
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
