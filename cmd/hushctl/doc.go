// Command hushctl drives a hushd over its gRPC API, for platforms, agents,
// QA and operators:
//
//	hushctl [--addr HOST:PORT] [--json] [--timeout D] session VERB [ARGS] [FLAGS]
//
// Verbs: create, get, list, delete, watch, pause, resume, start-capture,
// stop-capture. Output is for people by default; --json prints protojson
// (one object, or for watch one object per line). Flags may come before or
// after positional arguments. The address defaults to 127.0.0.1:50051 or
// $HUSHCTL_ADDR.
//
// Exit status: 0 success, 1 the call failed (the gRPC code and message are
// printed), 2 bad usage.
package main
