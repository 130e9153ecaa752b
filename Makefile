# stepbox: see README.md. Every target works from a fresh clone as root.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
BIN      := bin/stepbox
# The container init alone, beside stepbox, which copies it into each
# container (cmd/stepbox-init).
INIT_BIN := bin/stepbox-init
# The exec stage, beside stepbox too (cmd/stepbox-exec): the one binary
# with cgo, for the C constructor that enters a running container before
# the Go runtime starts (sandbox/nsenter). Static all the same; osusergo
# and netgo keep the C library's NSS out. testutil.GoBuild builds the same.
EXEC_BIN := bin/stepbox-exec
EXEC_FLAGS := -tags osusergo,netgo -ldflags '$(LDFLAGS) -linkmode external -extldflags -static'
# Static (CGO_ENABLED=0): the same binary runs inside containers as /bin/stepbox.
export CGO_ENABLED ?= 0

.PHONY: all build test lint bench tour tutorials clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(INIT_BIN) ./cmd/stepbox-init
	CGO_ENABLED=1 $(GO) build -trimpath $(EXEC_FLAGS) -o $(EXEC_BIN) ./cmd/stepbox-exec
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/stepbox

# The packages that make kernel objects run one at a time (-p 1): each one's
# leak checker compares the whole host before and after, which a neighbour
# package running at the same moment would disturb.
test: build
	STEPBOX_TEST_ROOT=1 $(GO) test -p 1 -count=1 -timeout 30m ./...

# The README's first command: the whole course on the built-in root
# filesystem (built on first use). TOUR_FLAGS=--auto runs it unattended,
# --lang ko in Korean.
tour: build
	./bin/stepbox tour $(TOUR_FLAGS)

# tutorials/ is rendered from the lesson catalogue; a test fails when it is
# out of date.
tutorials: build
	./bin/stepbox tutorials --out tutorials

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	CGO_ENABLED=1 $(GO) vet ./sandbox/nsenter ./cmd/stepbox-exec

# Start latency against runc and crun, the tour, the inspector against lsns
# (see bench/*.sh; needs root, hyperfine, runc, crun, GNU time).
bench: build
	./bench/run.sh

clean:
	rm -rf bin
