package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stepbox/stepbox/internal/testutil"
)

// TestExercisesOnCgroupV2InQemu does the cgroup exercises on a pure cgroup
// v2 machine (../shared/tools/v2vm), where a cgroup with processes cannot
// hand its controllers to its children: the session moves its shell into a
// cgroup of its own, so the learner's box below the exercise's cgroup gets
// memory.max and pids.max, the OOM kill and the refused fork are counted
// there, a container run in the session is found with its limits, and
// nothing is left. The shell reads its commands from a file, as a learner's
// typing would arrive. It skips, with the reason, where that machine is not
// at hand.
func TestExercisesOnCgroupV2InQemu(t *testing.T) {
	script := testutil.V2VM(t)
	snippet := `
cd /tmp; mkdir -p /tmp/x
cat > /tmp/c1 <<'C'
cat /proc/self/cgroup
mkdir $STEPBOX_CG_MEMORY/box
echo 16M > $STEPBOX_CG_MEMORY/box/memory.max
sh -c 'echo $$ > $STEPBOX_CG_MEMORY/box/cgroup.procs; dd if=/dev/zero of=/dev/null bs=32M count=1'
stepbox exercise check
C
XDG_STATE_HOME=/tmp/x $BIN --root /tmp/r exercise start limits.1 < /tmp/c1
cat > /tmp/c2 <<'C'
mkdir $STEPBOX_CG_PIDS/box
echo 5 > $STEPBOX_CG_PIDS/box/pids.max
sh -c 'echo $$ > $STEPBOX_CG_PIDS/box/cgroup.procs; for i in 1 2 3 4 5 6 7 8; do sleep 30 & done'
stepbox exercise check
C
XDG_STATE_HOME=/tmp/x $BIN --root /tmp/r exercise start limits.2 < /tmp/c2
cat > /tmp/c3 <<'C'
stepbox run -d --name db --memory 32m --pids-limit 20 -- sleep 1000
stepbox exercise check
C
XDG_STATE_HOME=/tmp/x $BIN --root /tmp/r exercise start full.2 < /tmp/c3
echo "left $(find /sys/fs/cgroup -mindepth 1 -type d | wc -l)"
`
	cmd := exec.Command(script, stepboxBin, snippet)
	cmd.Env = append(os.Environ(), "V2VM_TIMEOUT=200",
		"V2VM_FILES="+filepath.Join(filepath.Dir(stepboxBin), "stepbox-init")+":/usr/local/bin/stepbox-init")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("in the v2 machine (%s):\n%s", time.Since(start).Round(time.Second), out)
	if err != nil {
		t.Fatalf("the v2 machine: %v", err)
	}
	for _, want := range []string{"0::/shell", "✓ Solved: limits.1", "/box: limit 16 MiB, 1 OOM kills",
		"✓ Solved: limits.2", "/box: pids.max 5, 1 forks refused", "✓ Solved: full.2", "memory limit 32 MiB, pids.max 20", "left 0"} {
		if !strings.Contains(squashed(string(out)), want) {
			t.Errorf("missing %q", want)
		}
	}
	if n := strings.Count(string(out), "Everything made in it is removed."); n != 3 {
		t.Errorf("%d of 3 sessions ended", n)
	}
}

// squashed joins the lines a narrow terminal wrapped.
func squashed(s string) string { return strings.Join(strings.Fields(s), " ") }
