# stepbox: see README.md. Every target works from a fresh clone as root.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
BIN      := bin/stepbox
# The container init alone, beside stepbox, which copies it into each
# container (cmd/stepbox-init).
INIT_BIN := bin/stepbox-init
# The exec stage, beside stepbox too (cmd/stepbox-exec): the one binary
# with cgo, for the C constructors that enter a running container before
# the Go runtime starts and that stay as each container's minimal init
# (sandbox/nsenter). Static all the same; osusergo
# and netgo keep the C library's NSS out. testutil.GoBuild builds the same.
EXEC_BIN := bin/stepbox-exec
EXEC_FLAGS := -tags osusergo,netgo -ldflags '$(LDFLAGS) -linkmode external -extldflags -static'
# Static (CGO_ENABLED=0): the same binary runs inside containers as /bin/stepbox.
export CGO_ENABLED ?= 0

.PHONY: all build deps test lint bench tour tutorials clean validate

all: build

# The C compiler and static C library stepbox-exec needs are installed first
# where they are missing (as root, with apt-get; scripts/deps.sh). Without
# them everything else is built, and `stepbox exec` says what it lacks.
build:
	@sh scripts/deps.sh build
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(INIT_BIN) ./cmd/stepbox-init
	@if command -v gcc >/dev/null 2>&1 && [ -f "$$(gcc -print-file-name=libc.a)" ]; then \
		echo "CGO_ENABLED=1 $(GO) build -trimpath $(EXEC_FLAGS) -o $(EXEC_BIN) ./cmd/stepbox-exec"; \
		CGO_ENABLED=1 $(GO) build -trimpath $(EXEC_FLAGS) -o $(EXEC_BIN) ./cmd/stepbox-exec; \
	else \
		echo "make: no C compiler with a static C library, so no $(EXEC_BIN): 'stepbox exec' cannot run (install gcc and libc6-dev)" >&2; \
		rm -f $(EXEC_BIN); \
	fi
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/stepbox
	ln -sf stepbox bin/runc

# What the tests need beyond Go (witness tools, busybox-static): as root,
# apt-get installs the packages that are missing, and nothing is done when
# all is there. scripts/deps.sh lists each tool, its package and why.
deps:
	@sh scripts/deps.sh test

# The packages that make kernel objects run one at a time (-p 1): each one's
# leak checker compares the whole host before and after, which a neighbour
# package running at the same moment would disturb. sbin goes on PATH for
# the witnesses there (ip, capsh), which `su` without `-` leaves off.
test: deps build
	PATH="$$PATH:/usr/local/sbin:/usr/sbin:/sbin" STEPBOX_TEST_ROOT=1 $(GO) test -p 1 -count=1 -timeout 30m ./...
	@# The C constructor's own test needs cgo, which ./... above has off.
	CGO_ENABLED=1 STEPBOX_TEST_ROOT=1 $(GO) test -count=1 -tags osusergo,netgo ./sandbox/nsenter

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

# Start latency against runc and crun, the tour, the inspector against lsns,
# the detached containers' monitor memory, push and pull through a loopback
# registry against skopeo (see bench/*.sh; needs root, hyperfine, runc, crun,
# GNU time, skopeo, umoci, docker-registry).
bench: build
	./bench/run.sh

# The OCI runtime-tools validation suite against stepbox (bin/runc, the OCI
# command line), runc and crun, every program, summarised (needs root). The
# suite is fetched through the Go module proxy and built in a temporary
# directory at each run, never kept in the repository (scripts/validate.sh).
validate: build
	sh scripts/validate.sh

clean:
	rm -rf bin
