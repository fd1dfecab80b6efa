package loadgen

// System call numbers of include/uapi/asm-generic/unistd.h.
const (
	sysRecvmmsg = 243
	sysSendmmsg = 269
)
