package auth

import (
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

var hushServices = []*grpc.ServiceDesc{
	&hushv1.SessionService_ServiceDesc,
	&hushv1.PaymentService_ServiceDesc,
	&hushv1.RecordingService_ServiceDesc,
	&hushv1.AdminService_ServiceDesc,
	&hushv1.AuditService_ServiceDesc,
}

func fullMethods(d *grpc.ServiceDesc) []string {
	var out []string
	for _, m := range d.Methods {
		out = append(out, "/"+d.ServiceName+"/"+m.MethodName)
	}
	for _, s := range d.Streams {
		out = append(out, "/"+d.ServiceName+"/"+s.StreamName)
	}
	return out
}

// A new RPC cannot ship unprotected: every method of every hush service
// has a row in Policy, naming at least one role.
func TestEveryMethodHasPolicy(t *testing.T) {
	n := 0
	for _, d := range hushServices {
		for _, m := range fullMethods(d) {
			n++
			r, ok := Policy[m]
			if !ok {
				t.Errorf("%s has no entry in auth.Policy", m)
				continue
			}
			if len(r.Roles) == 0 {
				t.Errorf("%s: no role may call it", m)
			}
		}
	}
	if n < 15 {
		t.Errorf("found only %d methods; are the service descriptors wired?", n)
	}
	// And every hush row names a real method (no stale rows).
	known := map[string]bool{}
	for _, d := range hushServices {
		for _, m := range fullMethods(d) {
			known[m] = true
		}
	}
	for m := range Policy {
		if strings.HasPrefix(m, "/hush.") && !known[m] {
			t.Errorf("Policy row %s names no method", m)
		}
	}
}

// An agent-bound method must carry a session_id in its request, or the
// binding check would deny every agent call (fail closed, but useless).
func TestAgentBoundMethodsHaveSessionID(t *testing.T) {
	for m, r := range Policy {
		if !r.AgentBound {
			continue
		}
		svc, meth, _ := strings.Cut(strings.TrimPrefix(m, "/"), "/")
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
		if err != nil {
			t.Errorf("%s: %v", m, err)
			continue
		}
		md := d.(protoreflect.ServiceDescriptor).Methods().ByName(protoreflect.Name(meth))
		if md == nil {
			t.Errorf("%s: no such method", m)
			continue
		}
		if f := md.Input().Fields().ByName("session_id"); f == nil || f.Kind() != protoreflect.StringKind {
			t.Errorf("%s: request %s has no string session_id", m, md.Input().FullName())
		}
	}
}

// The role matrix, spelled out.
func TestRoleMatrix(t *testing.T) {
	type row struct {
		method string
		roles  string // roles allowed, space separated
	}
	for _, r := range []row{
		{hushv1.SessionService_CreateSession_FullMethodName, "platform admin"},
		{hushv1.SessionService_DeleteSession_FullMethodName, "platform admin"},
		{hushv1.SessionService_PauseRecording_FullMethodName, "platform agent admin"},
		{hushv1.SessionService_WatchSession_FullMethodName, "platform agent admin"},
		{hushv1.SessionService_StartSecureCapture_FullMethodName, "platform agent admin"},
		{hushv1.RecordingService_DownloadRecording_FullMethodName, "qa admin"},
		{hushv1.PaymentService_CollectDigits_FullMethodName, "payment"},
		{hushv1.AdminService_Drain_FullMethodName, "admin"},
		{hushv1.AuditService_ListAuditRecords_FullMethodName, "qa audit admin"},
		{hushv1.AuditService_WatchAuditRecords_FullMethodName, "qa audit admin"},
		{hushv1.AdminService_Diagnose_FullMethodName, "admin"},
		{hushv1.AdminService_WhoAmI_FullMethodName, "platform agent qa payment audit admin"},
	} {
		want := map[Role]bool{}
		for _, s := range strings.Fields(r.roles) {
			want[Role(s)] = true
		}
		for _, role := range Roles {
			if got := Policy[r.method].Allows(role); got != want[role] {
				t.Errorf("%s by %s: allowed=%v, want %v", r.method, role, got, want[role])
			}
		}
	}
}

// The metrics role reads /metrics and calls nothing: no row of Policy allows it.
func TestMetricsRoleHasNoRPC(t *testing.T) {
	for m, r := range Policy {
		if r.Allows(RoleMetrics) {
			t.Errorf("%s allows role metrics", m)
		}
	}
	if !(Rule{Roles: MetricsRoles}).Allows(RoleMetrics) || !(Rule{Roles: MetricsRoles}).Allows(RoleAdmin) || (Rule{Roles: MetricsRoles}).Allows(RolePayment) {
		t.Errorf("MetricsRoles = %v, want metrics and admin", MetricsRoles)
	}
}

// The audit role (a SIEM's credential) reads the audit trail and WhoAmI, and nothing else:
// no session, recording, digit or operator method.
func TestAuditRoleReadsOnlyTheTrail(t *testing.T) {
	allowed := map[string]bool{
		hushv1.AuditService_ListAuditRecords_FullMethodName:  true,
		hushv1.AuditService_WatchAuditRecords_FullMethodName: true,
		hushv1.AdminService_WhoAmI_FullMethodName:            true,
	}
	for m, r := range Policy {
		if strings.HasPrefix(m, "/hush.") && r.Allows(RoleAudit) != allowed[m] {
			t.Errorf("%s: role audit allowed=%v, want %v", m, r.Allows(RoleAudit), allowed[m])
		}
	}
	if (Rule{Roles: MetricsRoles}).Allows(RoleAudit) {
		t.Error("role audit may read /metrics")
	}
}
