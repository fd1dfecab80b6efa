// Package index keeps an embedded index of the recordings under a root
// directory, so that listing a page of them reads that page and no more.
//
// The index is a bbolt file, <root>/hush-index.db, derived from the
// sidecars: it can always be rebuilt from them, and Open does so when the
// file is missing, unreadable or of another layout. It keeps, per
// recording, its sidecar without the action list (Entry), and secondary
// keys that order recordings newest first: by start time, and within a
// call id, an agent id and each label. List walks the most selective of
// them from a cursor (the sort key of the last entry returned) and checks
// the other filters against their own keys before it decodes an entry.
//
// It stays current while hushd runs through Put, which the recorder calls
// with every sidecar it writes (record.WithOnSidecar): start, span changes,
// end, failure. An update the disk refuses is kept in memory and answered
// from there, and retried with the next one, so a recording that failed on
// a full disk reads as failed until the disk takes it or hushd restarts.
//
// Between runs the index trusts nothing it cannot check cheaply: Close
// records each directory's modification time; Open compares them with the
// directories on disk (the root and every YYYY/MM/DD directory, see
// record.Dirs) and rescans those that changed (a crash, Repair, a restore,
// a deletion by a retention job), dropping entries whose sidecar is gone.
// Those are also the only directories where a crash can have left a
// recording open, so start-up repair (WithRepair) reads them and no others:
// a restart does not read a million sidecars.
//
// Every walk checks its context, and one List examines at most MaxScan
// keys: a narrow filter over many recordings returns a short page (possibly
// empty) with a token to go on, rather than holding the server.
package index
