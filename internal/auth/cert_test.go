package auth

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"strings"
	"testing"
)

func TestIdentityFromCert(t *testing.T) {
	for _, tc := range []struct {
		name string
		subj pkix.Name
		want Identity
		err  string
	}{
		{"agent", pkix.Name{CommonName: "a-17", OrganizationalUnit: []string{"agent"}},
			Identity{Subject: "a-17", Role: RoleAgent, AgentID: "a-17", Method: MethodCert}, ""},
		{"qa among other OUs", pkix.Name{CommonName: "quinn", OrganizationalUnit: []string{"compliance", "qa"}},
			Identity{Subject: "quinn", Role: RoleQA, Method: MethodCert}, ""},
		{"same role twice", pkix.Name{CommonName: "p", OrganizationalUnit: []string{"platform", "platform"}},
			Identity{Subject: "p", Role: RolePlatform, Method: MethodCert}, ""},
		{"no CN", pkix.Name{OrganizationalUnit: []string{"admin"}}, Identity{}, "CN is required"},
		{"no role", pkix.Name{CommonName: "x", OrganizationalUnit: []string{"Admin"}}, Identity{}, "no OU names a role"},
		{"two roles", pkix.Name{CommonName: "x", OrganizationalUnit: []string{"qa", "admin"}}, Identity{}, "more than one role"},
		{"control char", pkix.Name{CommonName: "x\n", OrganizationalUnit: []string{"qa"}}, Identity{}, "non-printable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := IdentityFromCert(&x509.Certificate{Subject: tc.subj})
			if tc.err != "" {
				if !errors.Is(err, ErrCertIdentity) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want ErrCertIdentity with %q", err, tc.err)
				}
				return
			}
			if err != nil || id != tc.want {
				t.Fatalf("got %+v, %v; want %+v", id, err, tc.want)
			}
		})
	}
}
