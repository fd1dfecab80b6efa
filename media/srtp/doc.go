// Package srtp is hush's SRTP stage (RFC 3711): the keys of one call leg, the SDES
// a=crypto attribute that carries them in SDP (RFC 4568), and the per-packet contexts that
// unprotect what a party sends and protect what hush sends it, on
// github.com/pion/srtp/v3.
//
// Suites: AES_CM_128_HMAC_SHA1_80 and _32 (RFC 4568), AES_256_CM_HMAC_SHA1_80 and _32
// (RFC 6188), AEAD_AES_128_GCM and AEAD_AES_256_GCM (RFC 7714). NULL ciphers, MKIs, a key
// derivation rate and the UNENCRYPTED/UNAUTHENTICATED session parameters are not accepted:
// a leg is either encrypted and authenticated or plain.
//
// A Key never prints: String, GoString, Format and the text and JSON encodings show its
// suite and a fingerprint (a truncated SHA-256 of the key material) only. The material
// leaves the package through Inline (for the SDP hush sends to the party the key is for)
// and Material, nowhere else.
//
// Inbound and Outbound are the packet path: they work in the caller's buffers and allocate
// nothing per packet (after the first packet of a stream). Inbound authenticates before it
// decrypts and keeps a replay window per stream; a packet that fails is reported with a
// Verdict, never an error value (errors would allocate at a rate an attacker sets).
// Outbound refuses to protect the same RTP packet index twice (a nonce reused with
// another payload would break AES-GCM's authentication).
package srtp
