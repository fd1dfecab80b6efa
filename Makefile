# hush — build, run, test. `make test` is what CI runs (via .ci/run).
GO        ?= go
BIN       := $(CURDIR)/.bin
export PATH := $(BIN):$(PATH)

PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
GRPCURL_VERSION            := v1.9.4

PROTO_FILES := $(wildcard proto/hush/v1/*.proto)

.PHONY: all build run test test-short lint vet fmt-check proto proto-check tools bench fuzz docs clean

FUZZTIME ?= 10s

all: build

build:
	$(GO) build -o bin/ ./cmd/...

run:
	$(GO) run ./cmd/hushd

## tools: the code generators and grpcurl, pinned, installed into .bin/
tools:
	GOBIN=$(BIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(BIN) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	GOBIN=$(BIN) $(GO) install github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_VERSION)

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

lint: fmt-check vet proto-check

test: lint
	$(GO) test -count=1 -timeout 12m ./...

test-short:
	$(GO) test -short ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./media/...

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

clean:
	rm -rf bin .bin
