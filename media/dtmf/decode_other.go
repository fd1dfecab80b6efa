//go:build !amd64

package dtmf

// lawConsts is empty off amd64: decodeSquares is the only path.
type lawConsts struct{}

var ulawConsts, alawConsts lawConsts

// haveDecodeSSE is false off amd64.
var haveDecodeSSE, decodeSSEAvailable = false, false

func decodeSquaresLaw(hist []int16, codes []byte, tab *[256]int16, _ *lawConsts) int64 {
	return decodeSquares(hist, codes, tab)
}
