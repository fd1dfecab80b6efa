package auth

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"
)

// Trust is what client certificates are judged by: the CA bundle (tls.client_ca_file) and
// the certificate revocation lists (tls.crl_file) signed by those CAs. It is immutable;
// a reload builds a new one.
type Trust struct {
	pool    *x509.CertPool
	roots   map[[sha256.Size]byte]bool // the bundle's certificates, by hash of their DER
	revoked map[string]bool            // revocationKey of each revoked certificate
	// CRLs loaded, and the earliest NextUpdate among them (zero when none sets one).
	CRLs       int
	Revoked    int
	NextUpdate time.Time
}

// LoadTrust reads a PEM CA bundle and, if crlPEM is not empty, CRLs (PEM blocks "X509
// CRL", or one DER CRL). Each CRL must be signed by a certificate of the bundle: a CRL
// nobody vouches for could not be told from a forged one.
func LoadTrust(caPEM, crlData []byte) (*Trust, error) {
	return loadTrust(caPEM, crlData, "tls.client_ca_file", "tls.crl_file")
}

// loadTrust is LoadTrust with the configuration keys its errors name.
func loadTrust(caPEM, crlData []byte, caKey, crlKey string) (*Trust, error) {
	t := &Trust{pool: x509.NewCertPool(), roots: map[[sha256.Size]byte]bool{}, revoked: map[string]bool{}}
	var cas []*x509.Certificate
	for rest := caPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrTLSConfig, caKey, err)
		}
		cas = append(cas, c)
		t.pool.AddCert(c)
		t.roots[sha256.Sum256(c.Raw)] = true
	}
	if len(cas) == 0 {
		return nil, fmt.Errorf("%w: %s: no PEM certificate", ErrTLSConfig, caKey)
	}
	if len(bytes.TrimSpace(crlData)) == 0 {
		return t, nil
	}
	ders, err := crlDERs(crlData, crlKey)
	if err != nil {
		return nil, err
	}
	for i, der := range ders {
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: CRL %d: %v", ErrCRL, crlKey, i+1, err)
		}
		if !signedByOneOf(crl, cas) {
			return nil, fmt.Errorf("%w: %s: CRL %d (issuer %q) is not signed by a certificate in %s",
				ErrCRL, crlKey, i+1, crl.Issuer.String(), caKey)
		}
		for _, e := range crl.RevokedCertificateEntries {
			t.revoked[revocationKey(crl.RawIssuer, e.SerialNumber.Bytes())] = true
		}
		t.CRLs++
		t.Revoked += len(crl.RevokedCertificateEntries)
		if !crl.NextUpdate.IsZero() && (t.NextUpdate.IsZero() || crl.NextUpdate.Before(t.NextUpdate)) {
			t.NextUpdate = crl.NextUpdate
		}
	}
	return t, nil
}

// crlDERs splits a CRL file: PEM blocks of type "X509 CRL", or one DER CRL.
func crlDERs(data []byte, crlKey string) ([][]byte, error) {
	var out [][]byte
	rest := data
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "X509 CRL" {
			return nil, fmt.Errorf("%w: %s: PEM block %q, want \"X509 CRL\"", ErrCRL, crlKey, b.Type)
		}
		out = append(out, b.Bytes)
	}
	if len(out) == 0 {
		if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----")) {
			return nil, fmt.Errorf("%w: %s: no X509 CRL block", ErrCRL, crlKey)
		}
		out = append(out, data) // DER
	}
	return out, nil
}

func signedByOneOf(crl *x509.RevocationList, cas []*x509.Certificate) bool {
	for _, ca := range cas {
		if bytes.Equal(ca.RawSubject, crl.RawIssuer) && crl.CheckSignatureFrom(ca) == nil {
			return true
		}
	}
	return false
}

// revocationKey names a certificate for the revoked set: its issuer's DER name and its
// serial number (unique per issuer, RFC 5280 s4.1.2.2).
func revocationKey(rawIssuer, serial []byte) string {
	return string(rawIssuer) + "\x00" + string(serial)
}

// Check judges a chain the TLS handshake verified (leaf first, CA last) by this trust,
// now: the chain must end at a CA still in the bundle, no certificate of it may be
// revoked by a loaded CRL, and every certificate must be within its validity period.
// Handshakes check this too, so a certificate revoked, expired or no longer trusted is
// refused on new connections, and the authorizer checks it again on every call and on
// every open stream when the trust is reloaded.
func (t *Trust) Check(chain []*x509.Certificate, now time.Time) error {
	if len(chain) == 0 {
		return fmt.Errorf("%w: no certificate", ErrCertRefused)
	}
	if !t.roots[sha256.Sum256(chain[len(chain)-1].Raw)] {
		return fmt.Errorf("%w: its CA is not in the trusted bundle", ErrCertRefused)
	}
	for i, c := range chain {
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			return fmt.Errorf("%w: expired or not yet valid", ErrCertRefused)
		}
		if i < len(chain)-1 && t.revoked[revocationKey(c.RawIssuer, c.SerialNumber.Bytes())] {
			return fmt.Errorf("%w: revoked", ErrCertRefused)
		}
	}
	return nil
}

// expiry is when the first certificate of a chain expires.
func expiry(chain []*x509.Certificate) time.Time {
	var t time.Time
	for _, c := range chain {
		if t.IsZero() || c.NotAfter.Before(t) {
			t = c.NotAfter
		}
	}
	return t
}
