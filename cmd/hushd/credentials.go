package main

import (
	"log/slog"
	"time"

	"github.com/hushmedia/hush/internal/auth"
)

// reloadCredentials re-reads the token file, the TLS files (certificate, client CAs,
// CRLs) and the cluster CA and CRLs, keeping the old set of whichever fails, then ends
// every open stream whose credential no longer holds.
func reloadCredentials(log *slog.Logger, tokens *auth.TokenStore, serverTLS *auth.ServerTLS, authz *auth.Authorizer, fl *fleet) {
	if tokens != nil {
		if err := tokens.Reload(); err != nil {
			log.Error("token reload failed; keeping the old tokens", "err", err)
		} else {
			log.Info("tokens reloaded", "count", tokens.Len())
		}
	}
	if serverTLS != nil {
		if err := serverTLS.Reload(); err != nil {
			log.Error("TLS reload failed; keeping the old certificate, client CAs and CRLs", "err", err)
		} else {
			log.Info("certificate reloaded")
			logTrust(log, serverTLS.Trust())
		}
	}
	if n := authz.Recheck(); n > 0 {
		log.Warn("open streams ended: their credentials were revoked", "streams", n)
	}
	fl.reload(log)
}

// logTrust reports the client trust in force, warning when a CRL is past its next update
// (it is still enforced: a stale list revokes what it revokes, but may miss newer
// revocations).
func logTrust(log *slog.Logger, t *auth.Trust) {
	if t == nil || t.CRLs == 0 {
		return
	}
	log.Info("certificate revocation lists loaded", "crls", t.CRLs, "revoked", t.Revoked, "next_update", t.NextUpdate)
	if !t.NextUpdate.IsZero() && time.Now().After(t.NextUpdate) {
		log.Warn("a certificate revocation list is past its next update; fetch a fresh one", "next_update", t.NextUpdate)
	}
}
