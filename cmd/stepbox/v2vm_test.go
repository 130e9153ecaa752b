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

// TestRunOnCgroupV2InQemu runs `stepbox run` itself, the whole runtime and
// not only the cgroup driver, on a pure cgroup v2 machine (the throw-away
// qemu machine of ../shared/tools/v2vm, Debian's 6.1 kernel): the init is
// born in its cgroup, limits land in memory.max, pids.max and cpu.max, the
// OOM killer ends a hog with 137, a fork ceiling holds, the init is the lean
// stepbox-init (and stepbox's own copy when that one is not trusted), a
// detached container logs, dies with its monitor and restarts by its
// policy, and nothing is left.
// It skips, with the reason, where that machine is not at hand.
func TestRunOnCgroupV2InQemu(t *testing.T) {
	script := testutil.V2VM(t)
	snippet := `
mkdir -p /r/bin /r/proc /r/sys /r/dev /r/tmp /r/etc
cp /bin/busybox /r/bin/busybox; cp "$BIN" /r/bin/stepbox
for a in sh cat dd echo sleep head; do ln -s busybox /r/bin/$a; done
echo "layout $($BIN doctor --json | grep -o '"mode": *"[a-z0-9]*"' | head -1)"
$BIN run --rm --rootfs /r --memory 32m --pids-limit 20 --cpus 0.5 -- sh -c 'cat /proc/self/cgroup /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max'
echo "limits rc=$?"
$BIN run --rm --rootfs /r --memory 32m -- dd if=/dev/zero of=/dev/shm/x bs=1M count=64 2>/dev/null
echo "oom rc=$?"
$BIN run --rm --rootfs /r --pids-limit 12 -- sh -c 'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 2 & done 2>&1 | head -1'
echo "pids rc=$?"
$BIN run --rm --rootfs /r -- /bin/stepbox --version >/dev/null
echo "threaded rc=$?"
lean=$(stat -c %s "$(dirname $BIN)/stepbox-init")
$BIN run --rm --rootfs /r -- sleep 3 &
ip=
for i in 1 2 3 4 5 6 7 8 9 10; do
  for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = stepbox-init ] && ip=${p#/proc/}; done
  [ -n "$ip" ] && break; sleep 0.2
done
sz=$(stat -L -c %s /proc/$ip/exe)
echo "init is lean: $([ "$sz" = "$lean" ] && echo yes || echo "no: pid $ip, $sz bytes, stepbox-init $lean")"
wait
$BIN run -d --rootfs /r --name d1 -- sh -c 'echo hi; sleep 100' >/dev/null
echo "detached rc=$?"
sleep 0.5
echo "log $($BIN logs d1)"
m=$($BIN container inspect d1 | grep monitorPid | tr -dc 0-9)
echo "monitor is $(cat /proc/$m/comm)"
kill -9 $m; sleep 0.5
echo "monitor killed: $($BIN ps -a --format json | grep -o '"Status":"[^"]*"')"
$BIN rm d1 >/dev/null
echo "rm rc=$?"
$BIN run -d --rootfs /r --name d2 --restart on-failure:2 -- sh -c 'exit 3' >/dev/null
until $BIN ps -a | grep d2 | grep -q Exited; do sleep 0.1; done; sleep 1
echo "$($BIN container inspect d2 | grep -o '"restartCount": [0-9]*')"
$BIN rm d2 >/dev/null
chmod o+w "$(dirname $BIN)/stepbox-init"
$BIN run --rm --rootfs /r -- sh -c :
echo "untrusted lean init, own copy rc=$?"
echo "left $(ls /sys/fs/cgroup | grep -c stepbox)"
`
	cmd := exec.Command(script, stepboxBin, snippet)
	// stepbox-init goes beside stepbox, as make build puts it.
	cmd.Env = append(os.Environ(), "V2VM_TIMEOUT=200",
		"V2VM_FILES="+filepath.Join(filepath.Dir(stepboxBin), "stepbox-init")+":/usr/local/bin/stepbox-init")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("in the v2 machine (%s):\n%s", time.Since(start).Round(time.Second), out)
	if err != nil {
		t.Fatalf("the v2 machine: %v", err)
	}
	for _, want := range []string{`"mode": "v2"`, "0::/\n", "33554432\n", "20\n", "50000 100000\n", "limits rc=0",
		"oom rc=137", "can't fork", "threaded rc=0", "init is lean: yes", "untrusted lean init, own copy rc=0", "left 0",
		"detached rc=0", "log hi", "monitor is stepbox-monitor", `monitor killed: "Status":"Exited (-1)"`, "rm rc=0", `"restartCount": 2`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("missing %q", want)
		}
	}
}
