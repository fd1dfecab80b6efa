package auth

import (
	"crypto/x509"
	"fmt"
)

// IdentityFromCert maps a verified client certificate to an identity:
//
//	Subject = CN, Role = the one OU that names a role, AgentID = CN for agents.
//
// A certificate with no CN, no role OU, or two role OUs is refused: an
// ambiguous certificate must not pick the larger grant. The CA in
// tls.client_ca_file decides who may hold which OU, so keep that CA for
// hush alone.
func IdentityFromCert(c *x509.Certificate) (Identity, error) {
	cn := c.Subject.CommonName
	if err := checkName("CN", cn, true); err != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrCertIdentity, err)
	}
	var role Role
	for _, ou := range c.Subject.OrganizationalUnit {
		r := Role(ou)
		if !r.Valid() {
			continue
		}
		if role != "" && role != r {
			return Identity{}, fmt.Errorf("%w: more than one role OU", ErrCertIdentity)
		}
		role = r
	}
	if role == "" {
		return Identity{}, fmt.Errorf("%w: no OU names a role (one of %v)", ErrCertIdentity, Roles)
	}
	id := Identity{Subject: cn, Role: role, Method: MethodCert}
	if role == RoleAgent {
		id.AgentID = cn
	}
	return id, nil
}
