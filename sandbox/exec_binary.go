package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/stepbox/stepbox/internal/hint"
)

// The exec stage is a binary of its own, stepbox-exec (cmd/stepbox-exec),
// installed beside stepbox like stepbox-init: the one binary built with
// cgo, for package nsenter's C constructor. Linking that into stepbox and
// stepbox-init would cost every container start (a C runtime in each Go
// start, a larger copy) and the minimal init the confinement of its other
// threads (security.AllThreads needs a binary without cgo); DESIGN.md,
// "Entering a running container", has the measurements. Like the init, it
// runs from a sealed memfd copy (CVE-2019-5736), made on the first Exec.

// ExecBinaryName is the exec stage's file name, looked for in the running
// binary's directory.
const ExecBinaryName = "stepbox-exec"

var (
	execSealOnce sync.Once
	execSealed   *sealedInit
	execSealErr  error
	// execBinaryDir is where stepbox-exec is looked for when set; the
	// running binary's directory otherwise. The package's tests set it.
	execBinaryDir string
)

// PrefetchExec starts making the sealed copy of the exec stage in the
// background, for a program about to call Exec (see Prefetch).
func PrefetchExec() { go sealedExecStage() }

func sealedExecStage() (*sealedInit, error) {
	execSealOnce.Do(func() { execSealed, execSealErr = makeSealedExecStage() })
	return execSealed, execSealErr
}

func makeSealedExecStage() (*sealedInit, error) {
	tracef("exec copy: begin")
	defer tracef("exec copy: end")
	dir := execBinaryDir
	if dir == "" {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find %s: %w", ExecBinaryName, err)
		}
		dir = filepath.Dir(self)
	}
	p := filepath.Join(dir, ExecBinaryName)
	src, err := openTrusted(p)
	if errors.Is(err, errUntrusted) {
		return nil, err
	}
	if err != nil {
		return nil, hint.With(fmt.Errorf("entering a container needs %s: %w", p, err),
			"install stepbox-exec beside stepbox (make build puts it in bin/)")
	}
	defer src.Close()
	dst, err := protectedExe(src, p, ExecBinaryName)
	if err != nil {
		return nil, err
	}
	return &sealedInit{file: dst, lean: true}, nil
}
