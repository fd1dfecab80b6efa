//go:build amd64 && !amd64.v3

package dtmf

// digestTarget: the golden digest was made here. With GOAMD64=v3 (and on
// other architectures) the compiler may fuse multiplies and adds, which
// rounds differently.
const digestTarget = true
