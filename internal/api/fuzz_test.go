package api

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/hushmedia/hush/internal/session"
	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// nullMedia is a data plane that does nothing, so handlers can be fuzzed end to end
// against a real registry without sockets.
type nullMedia struct{ port uint16 }

func (m nullMedia) Local(session.Leg) (netip.AddrPort, netip.AddrPort) {
	a := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), m.port)
	return a, a
}
func (nullMedia) Remote(session.Leg) (netip.AddrPort, bool)                    { return netip.AddrPort{}, false }
func (nullMedia) SetLeg(session.Leg, session.LegSpec) error                    { return nil }
func (nullMedia) LastActivity() time.Time                                      { return time.Now() }
func (nullMedia) Stats(session.Leg) session.LegStats                           { return session.LegStats{} }
func (nullMedia) SetMasking(session.Direction, session.MaskPolicy, bool) error { return nil }
func (nullMedia) WatchKeys(session.Direction) error                            { return nil }
func (nullMedia) Close() error                                                 { return nil }

func fuzzServer() (*SessionServer, *session.Registry) {
	reg := session.NewRegistry(session.Config{
		Media:       func(session.MediaSpec) (session.Media, error) { return nullMedia{port: 30000}, nil },
		Defaults:    session.Policy{StrictSource: true, IdleTimeout: time.Minute},
		MaxSessions: 50,
	})
	s := &SessionServer{reg: reg, conv: converter{bind: netip.MustParseAddr("127.0.0.1"), defaults: reg.Defaults()}}
	return s, reg
}

// FuzzSessionHandlers decodes arbitrary bytes as each unary request type and runs the
// handler on a live registry: validation must turn every bad input into a status error,
// never a panic or an INTERNAL.
func FuzzSessionHandlers(f *testing.F) {
	for _, m := range []proto.Message{
		&hushv1.CreateSessionRequest{CallId: "c", Customer: &hushv1.Leg{RemoteAddr: "127.0.0.1:4000"}},
		&hushv1.CreateSessionRequest{CallId: "e", Agent: &hushv1.Leg{ExpectedIp: "127.0.0.2"}},
		&hushv1.PauseRecordingRequest{SessionId: "s", RequestId: "r", Reason: "card"},
		&hushv1.StartSecureCaptureRequest{SessionId: "s", MaxDigits: 16},
		&hushv1.ListSessionsRequest{PageSize: 3, PageToken: "MTIzOmFiYw"},
		&hushv1.PlayDtmfRequest{SessionId: "s", Toward: hushv1.LegName_LEG_NAME_CUSTOMER, Key: "5", LevelDbm0: -20},
	} {
		b, _ := proto.Marshal(m)
		f.Add(uint8(0), b)
	}
	s, reg := fuzzServer()
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		if reg.Len() > 40 {
			reg.EndAll(session.EndDeleted)
		}
		var err error
		switch which % 11 {
		case 0:
			req := &hushv1.CreateSessionRequest{}
			if proto.Unmarshal(b, req) == nil {
				_, err = s.CreateSession(ctx, req)
			}
		case 1:
			req := &hushv1.GetSessionRequest{}
			if proto.Unmarshal(b, req) == nil {
				_, err = s.GetSession(ctx, req)
			}
		case 2:
			req := &hushv1.ListSessionsRequest{}
			if proto.Unmarshal(b, req) == nil {
				_, err = s.ListSessions(ctx, req)
			}
		case 3:
			req := &hushv1.UpdateSessionRequest{}
			if proto.Unmarshal(b, req) == nil {
				_, err = s.UpdateSession(ctx, req)
			}
		case 4:
			req := &hushv1.DeleteSessionRequest{}
			if proto.Unmarshal(b, req) == nil {
				_, err = s.DeleteSession(ctx, req)
			}
		case 5:
			req := &hushv1.PauseRecordingRequest{}
			if proto.Unmarshal(b, req) == nil {
				_, err = s.PauseRecording(ctx, req)
			}
		case 6:
			req := &hushv1.ResumeRecordingRequest{}
			if proto.Unmarshal(b, req) == nil {
				_, err = s.ResumeRecording(ctx, req)
			}
		case 7:
			req := &hushv1.StartSecureCaptureRequest{}
			if proto.Unmarshal(b, req) == nil {
				_, err = s.StartSecureCapture(ctx, req)
			}
		case 8:
			req := &hushv1.StopSecureCaptureRequest{}
			if proto.Unmarshal(b, req) == nil {
				_, err = s.StopSecureCapture(ctx, req)
			}
		case 9:
			req := &hushv1.GetRecordingRequest{}
			if proto.Unmarshal(b, req) == nil {
				_, err = (&RecordingServer{}).GetRecording(ctx, req)
			}
		case 10:
			req := &hushv1.PlayDtmfRequest{}
			if proto.Unmarshal(b, req) == nil {
				_, err = s.PlayDtmf(ctx, req)
			}
		}
		if c := status.Code(err); c == codes.Internal || c == codes.Unknown {
			t.Fatalf("handler %d answered %v", which%11, err)
		}
	})
}
