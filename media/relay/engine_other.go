//go:build !(linux && (amd64 || arm64))

package relay

import "fmt"

func newEpollEngine(EngineOptions) (Engine, error) {
	return nil, fmt.Errorf("%w: epoll needs linux/amd64 or linux/arm64", ErrEngineUnavailable)
}

func newURingEngine(EngineOptions) (Engine, error) {
	return nil, fmt.Errorf("%w: io_uring needs linux/amd64 or linux/arm64", ErrEngineUnavailable)
}
