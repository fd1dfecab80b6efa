// Command hushctl drives a hushd over its gRPC API, for platforms, agents,
// QA and operators, and checks hushd's files offline:
//
//	hushctl [GLOBAL FLAGS] session VERB [ARGS] [FLAGS]
//	hushctl audit verify FILE
//	hushctl token hash --subject S --role R [--agent-id A] < TOKEN
//	hushctl token new
//
// Session verbs: create, get, list, delete, watch, pause, resume,
// start-capture, stop-capture. Output is for people by default; --json
// prints protojson (one object, or for watch one object per line). Flags
// may come before or after positional arguments. The address defaults to
// 127.0.0.1:50051 or $HUSHCTL_ADDR.
//
// Security: --tls connects with TLS (--ca FILE trusts a private CA,
// --server-name overrides the name checked); --cert and --key present a
// client certificate (mTLS); the bearer token comes from $HUSHCTL_TOKEN or
// --token. hushctl refuses to send a token in plaintext to anything but a
// loopback address.
//
// audit verify checks an audit log's hash chain and prints the first
// broken line. token hash reads a token on stdin and prints its line for
// hushd's token file (the hash, never the token); token new prints a
// random 256-bit token.
//
// Exit status: 0 success, 1 the call failed (the gRPC code and message are
// printed) or the audit chain is broken, 2 bad usage.
package main
