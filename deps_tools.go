//go:build tools

// Package stepbox pins, during the first build-out, the modules the packages
// will use (chosen in ../shared/notes/libraries.md), so go mod tidy keeps them.
package stepbox

import (
	_ "github.com/creack/pty"
	_ "github.com/cyphar/filepath-securejoin/pathrs-lite"
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/moby/profiles/seccomp"
	_ "github.com/moby/sys/capability"
	_ "github.com/moby/sys/mountinfo"
	_ "github.com/opencontainers/runtime-spec/specs-go"
	_ "github.com/spf13/cobra"
	_ "github.com/vishvananda/netlink"
	_ "github.com/vishvananda/netns"
	_ "golang.org/x/net/bpf"
)
