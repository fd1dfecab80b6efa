package auth

import (
	"strings"

	hushv1 "github.com/hushmedia/hush/proto/hush/v1"
)

// Rule is who may call a method.
type Rule struct {
	Roles []Role
	// AgentBound: an agent may call the method only for a session bound to
	// its agent id (the request's session_id); other roles are not bound.
	AgentBound bool
	// AgentScoped: an agent may call the method only with the request's agent_id set to
	// its own agent id (an agent desktop finding its current call); others are not bound.
	AgentScoped bool
}

// Allows reports whether role r may call the method.
func (r Rule) Allows(role Role) bool {
	for _, x := range r.Roles {
		if x == role {
			return true
		}
	}
	return false
}

var (
	platform      = []Role{RolePlatform, RoleAdmin}
	agentControls = []Role{RolePlatform, RoleAgent, RoleAdmin}
	qa            = []Role{RoleQA, RoleAdmin}
	// Captured card digits go to payment clients only: an operator (admin)
	// has no business with them, and granting them would widen PCI scope.
	payment = []Role{RolePayment}
	admin   = []Role{RoleAdmin}
	// auditReaders read the audit trail: QA (a call's records), a SIEM (role audit, which
	// may do nothing else) and operators. No card data is in it.
	auditReaders = []Role{RoleQA, RoleAudit, RoleAdmin}
	// anyRole is every role with an API: the metrics role reads /metrics only.
	anyRole = []Role{RolePlatform, RoleAgent, RoleQA, RolePayment, RoleAudit, RoleAdmin}
)

// MetricsRoles may read /metrics when it is protected (http.metrics_open false).
var MetricsRoles = []Role{RoleMetrics, RoleAdmin}

// Policy is the one table of full method name -> rule. A method missing
// here is refused to everyone (TestEveryMethodHasPolicy keeps it complete).
var Policy = map[string]Rule{
	hushv1.SessionService_CreateSession_FullMethodName: {Roles: platform},
	hushv1.SessionService_GetSession_FullMethodName:    {Roles: platform},
	hushv1.SessionService_ListSessions_FullMethodName:  {Roles: agentControls, AgentScoped: true},
	hushv1.SessionService_UpdateSession_FullMethodName: {Roles: platform},
	hushv1.SessionService_DeleteSession_FullMethodName: {Roles: platform},
	hushv1.SessionService_Offer_FullMethodName:         {Roles: platform},
	hushv1.SessionService_Answer_FullMethodName:        {Roles: platform},
	// A key played into a call is the platform's (SIP INFO turned into audio), not an
	// agent desktop's.
	hushv1.SessionService_PlayDtmf_FullMethodName: {Roles: platform},

	hushv1.SessionService_WatchSession_FullMethodName:       {Roles: agentControls, AgentBound: true},
	hushv1.SessionService_PauseRecording_FullMethodName:     {Roles: agentControls, AgentBound: true},
	hushv1.SessionService_ResumeRecording_FullMethodName:    {Roles: agentControls, AgentBound: true},
	hushv1.SessionService_StartSecureCapture_FullMethodName: {Roles: agentControls, AgentBound: true},
	hushv1.SessionService_StopSecureCapture_FullMethodName:  {Roles: agentControls, AgentBound: true},

	hushv1.PaymentService_CollectDigits_FullMethodName: {Roles: payment},

	hushv1.RecordingService_ListRecordings_FullMethodName:    {Roles: qa},
	hushv1.RecordingService_GetRecording_FullMethodName:      {Roles: qa},
	hushv1.RecordingService_DownloadRecording_FullMethodName: {Roles: qa},
	// Erasure and legal holds change what is kept: operators (compliance) only.
	hushv1.RecordingService_EraseRecording_FullMethodName: {Roles: admin},
	hushv1.RecordingService_SetLegalHold_FullMethodName:   {Roles: admin},

	// The audit trail: who paused, captured, listened; no card data, but QA's business, a
	// SIEM's (role audit) and operators'.
	hushv1.AuditService_ListAuditRecords_FullMethodName:  {Roles: auditReaders},
	hushv1.AuditService_WatchAuditRecords_FullMethodName: {Roles: auditReaders},

	hushv1.AdminService_Drain_FullMethodName:    {Roles: admin},
	hushv1.AdminService_Diagnose_FullMethodName: {Roles: admin},
	// Who am I: any caller may learn how hushd sees it (hushctl doctor's role check).
	hushv1.AdminService_WhoAmI_FullMethodName: {Roles: anyRole},

	// Reflection reveals the API schema (public in the repository) to any
	// authenticated caller; auth.reflection=false does not register it.
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      {Roles: anyRole},
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": {Roles: anyRole},
}

// exempt reports methods that need no authentication: health checks, which
// load balancers and kubelets call without credentials.
func exempt(fullMethod string) bool {
	return strings.HasPrefix(fullMethod, "/grpc.health.v1.Health/")
}
