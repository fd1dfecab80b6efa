// Package store manages finished recordings: where they are (the local
// recordings directory, and an S3-compatible object store when one is
// configured), how long they stay (retention, legal hold) and their
// erasure. It works beside the recorders, never on the packet path: the
// recorder hands it a recording once the recording is closed.
//
// Erase removes a recording everywhere (object store first, then the local
// files, then the index); a recording on legal hold, or still being
// written, is refused. Sweep erases the recordings whose retention ended
// (record.Sidecar.RetainUntil) and that are not on hold, by the injected
// clock. SetHold places or lifts a legal hold, kept in the sidecar.
//
// With an object store (see Uploader), a finished recording is uploaded,
// the upload is checked against the local file's SHA-256 by reading the
// object back, and only then is the local WAV removed and the sidecar told
// where the audio went (Location). A store that is down never loses a
// recording: it waits on disk and is retried with backoff; a multipart
// upload goes on from the parts the store already holds.
package store
