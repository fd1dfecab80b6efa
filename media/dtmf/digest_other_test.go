//go:build !amd64 || amd64.v3

package dtmf

const digestTarget = false
