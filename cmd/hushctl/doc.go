// Command hushctl drives a hushd over its gRPC API, for platforms, agents,
// QA, payment clients and operators, and checks hushd's files offline:
//
//	hushctl [GLOBAL FLAGS] session VERB [ARGS] [FLAGS]
//	hushctl [GLOBAL FLAGS] recording VERB [ARGS] [FLAGS]
//	hushctl [GLOBAL FLAGS] payment collect SESSION_ID [FLAGS]
//	hushctl [GLOBAL FLAGS] health [--service S]
//	hushctl [GLOBAL FLAGS] doctor [FLAGS]
//	hushctl [GLOBAL FLAGS] audit query|tail [FLAGS]
//	hushctl audit verify FILE
//	hushctl token hash --subject S --role R [--agent-id A] < TOKEN
//	hushctl token new
//	hushctl --version
//
// Session verbs: create, get, list, delete, watch, pause, resume,
// start-capture, stop-capture. Recording verbs (role qa): list (all pages;
// --call-id, --since, --until), info ID (the sidecar), get ID (the WAV to
// -o FILE or stdout; --offset resumes; size and sha256 checked). Output is
// for people by default; --json prints protojson (one object, or for
// streams one object per line). Flags may come before or after positional
// arguments. The address defaults to 127.0.0.1:50051 or $HUSHCTL_ADDR.
//
// payment collect is for PCI-scoped payment clients only; hushd serves it
// to the payment role alone. It prints card digits to stdout and nowhere
// else, and zeroes its copies once they are written.
//
// Security: --tls connects with TLS (--ca FILE trusts a private CA,
// --crl FILE refuses a hushd certificate its CRLs revoke, --server-name
// overrides the name checked); --cert and --key present a
// client certificate (mTLS); the bearer token comes from $HUSHCTL_TOKEN or
// --token. hushctl refuses to send a token in plaintext to anything but a
// loopback address.
//
// health checks hushd's gRPC health (exit 0 SERVING, 1 otherwise), as a
// container health check or a script would; it needs no credentials.
//
// doctor checks a running hushd (reachability, certificate expiry, the
// credential's role, clock skew and, with an admin credential, engine, port
// range, recording directory and audit chain) and says what is wrong.
//
// audit query lists audit records (filters: session, call, agent, actor,
// action, time); audit tail prints the last records and follows the trail
// (roles audit, qa, admin).
//
// audit verify checks an audit log's hash chain and prints the first
// broken line. token hash reads a token on stdin and prints its line for
// hushd's token file (the hash, never the token); token new prints a
// random 256-bit token.
//
// Exit status: 0 success, 1 the call failed (the gRPC code and message are
// printed), a download did not match its size or sha256, the audit chain
// is broken, or doctor found something wrong, 2 bad usage.
package main
