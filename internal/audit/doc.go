// Package audit keeps hushd's audit trail: an append-only file of JSON
// lines, one record per line, each fsynced before Append returns and each
// chained to the one before it by SHA-256.
//
// A line is the record's canonical JSON (encoding/json of Record, fields in
// declaration order) with "hash" last:
//
//	{"seq":7,"time":"2026-11-26T21:04:05.123456789Z","actor":"alice","role":"agent",
//	 "action":"recording.pause","session_id":"s-1","call_id":"c-1","agent_id":"a-17",
//	 "request_id":"r-9","outcome":"OK",
//	 "prev":"<hash of record 6>","hash":"<hex SHA-256 of this line without ,"hash":...>"}
//
// hash is the SHA-256 of the line's bytes up to, not including, the
// ,"hash" member, closed with "}"; prev is the previous record's hash (64
// zeros for the first record); seq counts from 1. Changing any byte of a
// line breaks its own hash; deleting, inserting or reordering lines breaks
// seq and prev. Verify (and `hushctl audit verify FILE`) names the first
// line that does not hold. The chain is unkeyed: someone able to rewrite
// the whole file can recompute it, so ship the head hash (Log.Head)
// elsewhere when that matters; truncation of the tail is only visible
// against such a copy.
//
// Log.Query and Log.Last answer from an in-memory index of the newest
// records (built while Open verifies the file, extended by Append), reading
// only the lines they return; Log.Changed wakes followers at each append.
//
// Card digits never belong in the audit trail. Append refuses any field
// holding a card-like digit run (ErrDigits): a number of its own (not part
// of an alphanumeric identifier) of 12 to 19 digits, the lengths of a
// primary account number (ISO/IEC 7812-1), that passes the Luhn check, or
// of more than 19 digits. A plain "12 or more digits" rule would refuse
// about one hex session id in 35 and one UUID in 280. Recorder, the
// interface the API uses, blanks such runs instead, so a record is never
// lost to the filter.
package audit
