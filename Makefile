# hush — build, run, test. `make test` is what CI runs (via .ci/run).
GO        ?= go
BIN       := $(CURDIR)/.bin
export PATH := $(BIN):$(PATH)

PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
GRPCURL_VERSION            := v1.9.4
KUBECONFORM_VERSION        := v0.8.0
KUSTOMIZE_VERSION          := v5.8.1
# The Kubernetes release whose OpenAPI spec (in the k8s.io/kubernetes module) the deploy
# tests turn into kubeconform's schemas; deploy/kubernetes_test.go names the same one.
KUBERNETES_VERSION         := v1.34.2

PROTO_FILES := $(wildcard proto/hush/v1/*.proto)

.PHONY: all build run test test-mask-matrix test-short lint vet fmt-check tidy-check proto proto-check tools bench fuzz docs clean ci-fresh \
	bench-load bench-compare bench-scale bench-ramp bench-soak

FUZZTIME ?= 10s

all: build

build:
	$(GO) build -o bin/ ./cmd/...

run:
	$(GO) run ./cmd/hushd

## tools: the code generators, grpcurl and the deploy checkers, pinned, installed into .bin/
tools:
	GOBIN=$(BIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(BIN) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	GOBIN=$(BIN) $(GO) install github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_VERSION)
	GOBIN=$(BIN) $(GO) install github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION)
	GOBIN=$(BIN) $(GO) install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	$(GO) mod download k8s.io/kubernetes@$(KUBERNETES_VERSION)

proto:
	protoc -I proto \
	  --go_out=proto --go_opt=paths=source_relative \
	  --go-grpc_out=proto --go-grpc_opt=paths=source_relative \
	  $(PROTO_FILES)

## proto-check: fails when the committed generated code is stale
proto-check:
	@if command -v protoc >/dev/null && [ -x $(BIN)/protoc-gen-go ] && [ -x $(BIN)/protoc-gen-go-grpc ]; then \
	  $(MAKE) -s proto && git diff --exit-code -- proto/ ; \
	elif [ "$$CI" = "true" ]; then \
	  echo "proto-check: protoc (Debian package protobuf-compiler) or plugins (make tools) missing" >&2; exit 1; \
	else \
	  echo "proto-check: skipped: install Debian package protobuf-compiler and run 'make tools'" >&2; \
	fi

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null; git ls-files --others --exclude-standard '*.go' 2>/dev/null)); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

## tidy-check: go.mod and go.sum say exactly what the code imports
tidy-check:
	$(GO) mod tidy -diff

lint: fmt-check vet tidy-check proto-check

# -p 1: packages one at a time. Several suites judge real-time audio (masking delay lines,
# recording placement, load runs); two of them competing for a 2-core machine measure
# the machine, not hush.
test: lint
	$(GO) test -p 1 -count=1 -timeout 12m ./...

## test-mask-matrix: the full masking matrix (432 keys over speech and music, three judges),
## through the masker and through a real hushd
test-mask-matrix:
	$(GO) test -count=1 -run 'TestMaskOverlap' -v ./media/mask/ -args -mask-matrix
	$(GO) test -count=1 -run 'TestMaskingOverSpeechAndMusic' -v ./cmd/hushd/ -args -mask-matrix

test-short:
	$(GO) test -short ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./media/...

BENCH_CALLS    ?= 500
BENCH_DURATION ?= 30s
BENCH_OUT      ?= bench-results

## bench-load: hushload against a fresh hushd: BENCH_CALLS calls for BENCH_DURATION
bench-load: build
	@mkdir -p $(BENCH_OUT)
	bin/hushload -target hush -calls $(BENCH_CALLS) -duration $(BENCH_DURATION) -json $(BENCH_OUT)/load.json

## bench-compare: the same load through hushd, rtpengine (userspace) and no relay, with ratios
bench-compare: build
	@mkdir -p $(BENCH_OUT)
	bin/hushload -compare -calls $(BENCH_CALLS) -duration $(BENCH_DURATION) -json $(BENCH_OUT)/compare.json

## bench-scale: the scaling curve 100/250/500/1000 calls, hush and rtpengine
bench-scale: build
	@mkdir -p $(BENCH_OUT)
	bin/hushload -compare -baseline=false -scale 100,250,500,1000 -duration $(BENCH_DURATION) -json $(BENCH_OUT)/scale.json

## bench-ramp: the largest call count with no loss (hush, then rtpengine)
bench-ramp: build
	@mkdir -p $(BENCH_OUT)
	bin/hushload -compare -baseline=false -ramp -calls 250 -duration 15s -json $(BENCH_OUT)/ramp.json

## bench-soak: 10 minutes at BENCH_CALLS calls; hushd's RSS sampled every 10 s
bench-soak: build
	@mkdir -p $(BENCH_OUT)
	bin/hushload -target hush -calls $(BENCH_CALLS) -soak 10m -json $(BENCH_OUT)/soak.json


## fuzz: every fuzz target for FUZZTIME each (make fuzz FUZZTIME=5m for a long run)
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s $$pkg || exit 1; \
	  done; \
	done

## docs: regenerate the README's configuration table from the config key table
docs:
	$(GO) run ./cmd/hushd --print-config-reference > .config-reference.md
	awk 'BEGIN{while((getline l < ".config-reference.md")>0) ref=ref l "\n"} \
	  /^<!-- config-reference:begin -->/{print; printf "%s", ref; skip=1; next} \
	  /^<!-- config-reference:end -->/{skip=0} !skip' README.md > README.md.new
	mv README.md.new README.md
	rm -f .config-reference.md

## ci-fresh: .ci/run in a fresh Debian 12 root made by debootstrap (as root): proves CI needs
## nothing but what .ci/run installs. FRESH_ROOT (outside the checkout) keeps the base.
FRESH_ROOT ?= /var/tmp/hush-fresh-debian
ci-fresh:
	.ci/fresh-debian $(FRESH_ROOT)

clean:
	rm -rf bin .bin
