package main

import (
	"errors"

	"github.com/stepbox/stepbox/sandbox"
)

func defaultRootfs(g *globals, p sandbox.Paths) (string, error) {
	return "", errors.New("default rootfs: not yet")
}
