// Package seal encrypts recordings at rest: a recording's WAV and its
// sidecar are each a sealed file, encrypted with the recording's own random
// 256-bit data key (DEK) under AES-256-GCM, the DEK wrapped by a
// key-encryption key (KEK) that a Keyring holds (a key file, or a KMS).
//
// # File format
//
// A sealed file is a header, then records:
//
//	header: "HUSHSEAL" | version 1 | kind (1 WAV, 2 sidecar) | 16-byte file id
//	        | u16 len + recording id | u16 len + KEK id | u16 len + wrapped DEK
//	record: u32 ciphertext length | u64 offset | u8 final | 12-byte nonce
//	        | ciphertext (payload + 16-byte GCM tag)
//
// Integers are big-endian. A record carries payload bytes to be placed at
// offset in the plaintext file; the plaintext is the records applied in
// order (a later record overwrites what an earlier one wrote there), so a
// writer may append a record for any write, including the rewrite of a
// header it checkpoints: the file on disk only ever grows by whole
// records, and a crash can cut at most the record being appended.
//
// Each record's AAD is the file id, the kind, the record's index (its
// position in the file, counted from 0), its offset and its final flag. A
// record altered, moved, dropped or taken from another file fails
// authentication at its index, and the reader says which record and at
// which byte of the file. A cleanly closed file ends with a record whose
// final flag is set; a file without one was cut (a crash: Repair seals
// what it recovers with a final record) or truncated after the fact.
//
// The DEK is wrapped with the recording id as additional data, so a header
// copied onto another recording's file does not open. Rewrapping (key
// rotation) replaces only the header: the records do not depend on it.
// Nonces are random for every record: one DEK seals at most a few million
// records (a record per second of audio and per checkpoint), far below the
// 2^32 random-nonce bound of GCM.
package seal
