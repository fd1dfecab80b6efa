//go:build !(linux && (amd64 || arm64))

package udpio

import "fmt"

func newEpollEngine(Options) (Engine, error) {
	return nil, fmt.Errorf("%w: epoll needs linux/amd64 or linux/arm64", ErrUnavailable)
}

func newURingEngine(Options) (Engine, error) {
	return nil, fmt.Errorf("%w: io_uring needs linux/amd64 or linux/arm64", ErrUnavailable)
}
