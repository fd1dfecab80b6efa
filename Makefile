# hush — build, run, test. `make test` is what CI runs (via .ci/run).
GO        ?= go
BIN       := $(CURDIR)/.bin
export PATH := $(BIN):$(PATH)

PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
GRPCURL_VERSION            := v1.9.4
GRPC_GATEWAY_VERSION       := v2.34.0
KUBECONFORM_VERSION        := v0.8.0
STATICCHECK_VERSION        := v0.8.2
KUSTOMIZE_VERSION          := v5.8.1
# The S3 server the object-store tests start on loopback (posix backend on a temp dir).
VERSITYGW_VERSION          := v1.8.0
# The Kubernetes release whose OpenAPI spec (in the k8s.io/kubernetes module) the deploy
# tests turn into kubeconform's schemas; deploy/kubernetes_test.go names the same one.
KUBERNETES_VERSION         := v1.34.2

PROTO_FILES := $(wildcard proto/hush/v1/*.proto)

.PHONY: all build run test test-mask-matrix test-short lint vet staticcheck fmt-check tidy-check proto proto-check tools bench fuzz docs clean ci-fresh \
	bench-load bench-compare bench-scale bench-ramp bench-soak bench-ng

FUZZTIME ?= 10s

all: build

build:
	$(GO) build -o bin/ ./cmd/...

run:
	$(GO) run ./cmd/hushd

## tools: the code generators, grpcurl, staticcheck, the deploy checkers and the S3 test server, pinned, installed into .bin/
tools:
	GOBIN=$(BIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(BIN) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	GOBIN=$(BIN) $(GO) install github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_VERSION)
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	GOBIN=$(BIN) $(GO) install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@$(GRPC_GATEWAY_VERSION)
	GOBIN=$(BIN) $(GO) install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@$(GRPC_GATEWAY_VERSION)
	GOBIN=$(BIN) $(GO) install github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION)
	GOBIN=$(BIN) $(GO) install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	GOBIN=$(BIN) $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)
	$(GO) mod download k8s.io/kubernetes@$(KUBERNETES_VERSION)

PLUGINS := protoc-gen-go protoc-gen-go-grpc protoc-gen-grpc-gateway protoc-gen-openapiv2

## proto: the Go code, the HTTP/JSON gateway and the OpenAPI document (hush.swagger.json)
## from proto/hush/v1. google/api/annotations.proto comes from the Go module
## google.golang.org/genproto/googleapis/api (proto/tools/googleapi), so this runs offline.
proto:
	@mkdir -p $(BIN)
	$(GO) run ./proto/tools/googleapi $(BIN)/googleapi.pb
	protoc -I proto --descriptor_set_in=$(BIN)/googleapi.pb \
	  --go_out=proto --go_opt=paths=source_relative \
	  --go-grpc_out=proto --go-grpc_opt=paths=source_relative \
	  --grpc-gateway_out=proto --grpc-gateway_opt=paths=source_relative,generate_unbound_methods=false \
	  --openapiv2_out=proto/hush/v1 --openapiv2_opt=allow_merge=true,merge_file_name=hush,output_format=json,openapi_configuration=proto/openapi.yaml \
	  $(PROTO_FILES)

## proto-check: fails when the committed generated code is stale
proto-check:
	@if command -v protoc >/dev/null && $(foreach p,$(PLUGINS),[ -x $(BIN)/$(p) ] &&) true; then \
	  $(MAKE) -s proto && git diff --exit-code -- proto/ && \
	  test -z "$$(git ls-files --others --exclude-standard proto/)" || { echo "proto-check: generated code is stale or new: run make proto and commit" >&2; exit 1; } ; \
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

## staticcheck: the pinned staticcheck (make tools) over every package
staticcheck:
	@if [ -x $(BIN)/staticcheck ]; then \
	  $(BIN)/staticcheck ./... ; \
	elif [ "$$CI" = "true" ]; then \
	  echo "staticcheck: missing: run 'make tools'" >&2; exit 1; \
	else \
	  echo "staticcheck: skipped: run 'make tools'" >&2; \
	fi

lint: fmt-check vet staticcheck tidy-check proto-check

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
# rtpengine's masking path (transcoding through its codec handlers) does not carry 500
# calls on 2 cores; the masked comparison runs at a load it does carry.
BENCH_MASK_CALLS ?= 100
BENCH_DURATION ?= 30s
BENCH_OUT      ?= bench-results

## bench-load: hushload against a fresh hushd: BENCH_CALLS calls for BENCH_DURATION
bench-load: build
	@mkdir -p $(BENCH_OUT)
	bin/hushload -target hush -calls $(BENCH_CALLS) -duration $(BENCH_DURATION) -json $(BENCH_OUT)/load.json

## bench-compare: the same load through hushd, rtpengine (userspace) and no relay, with ratios;
## then masked: hushd masking and recording against rtpengine forwarding and rtpengine's own masking path
bench-compare: build
	@mkdir -p $(BENCH_OUT)
	bin/hushload -compare -calls $(BENCH_CALLS) -duration $(BENCH_DURATION) -json $(BENCH_OUT)/compare.json
	bin/hushload -compare -mask tone -record -calls $(BENCH_MASK_CALLS) -duration $(BENCH_DURATION) -json $(BENCH_OUT)/compare-mask.json

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


## bench-ng: call setup over the ng protocol, hush and rtpengine: BENCH_CHURN calls set up
## and torn down while BENCH_CALLS calls stream; setup p50/p99 per call
BENCH_CHURN ?= 1000
bench-ng: build
	@mkdir -p $(BENCH_OUT)
	bin/hushload -compare -baseline=false -ng -calls $(BENCH_CALLS) -churn $(BENCH_CHURN) -duration $(BENCH_DURATION) -json $(BENCH_OUT)/ng.json
	$(GO) test -run '^$$' -bench 'OfferAnswer' -benchmem ./internal/ng ./cmd/hushd

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
