package loadgen

// System call numbers of arch/x86/entry/syscalls/syscall_64.tbl (the syscall package has
// no SYS_SENDMMSG on amd64).
const (
	sysRecvmmsg = 299
	sysSendmmsg = 307
)
