//go:build !amd64

package dtmf

// goertzel runs the eight filters over one sub-block's samples from a zero
// state, leaving s[n-1] in s1 and s[n-2] in s2.
func goertzel(samples []int16, s1, s2 *[8]float64) { goertzelGo(samples, s1, s2) }
