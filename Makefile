# stepbox: see README.md. Every target works from a fresh clone as root.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
BIN      := bin/stepbox
# The container init alone, beside stepbox, which copies it into each
# container (cmd/stepbox-init).
INIT_BIN := bin/stepbox-init
# Static (CGO_ENABLED=0): the same binary runs inside containers as /bin/stepbox.
export CGO_ENABLED ?= 0

.PHONY: all build deps test lint bench tour tutorials clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(INIT_BIN) ./cmd/stepbox-init
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/stepbox

# What the tests need beyond Go (witness tools, busybox-static): as root,
# apt-get installs the packages that are missing, and nothing is done when
# all is there. scripts/test-deps.sh lists each tool, its package and why.
deps:
	@sh scripts/test-deps.sh

# The packages that make kernel objects run one at a time (-p 1): each one's
# leak checker compares the whole host before and after, which a neighbour
# package running at the same moment would disturb. sbin goes on PATH for
# the witnesses there (ip, capsh), which `su` without `-` leaves off.
test: deps build
	PATH="$$PATH:/usr/local/sbin:/usr/sbin:/sbin" STEPBOX_TEST_ROOT=1 $(GO) test -p 1 -count=1 -timeout 30m ./...

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

# Start latency against runc and crun, the tour, the inspector against lsns,
# the detached containers' monitor memory (see bench/*.sh; needs root,
# hyperfine, runc, crun, GNU time).
bench: build
	./bench/run.sh

clean:
	rm -rf bin
