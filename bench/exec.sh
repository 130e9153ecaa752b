#!/usr/bin/env bash
# bench/exec.sh: exec latency, start to exit of /bin/true inside a running
# container: `stepbox exec NAME /bin/true` on a detached container, and
# sandbox.Container.Exec alone (bench/execbench, the library without the
# command line), against `runc exec` and `crun exec`, each into its own
# running container on the same bundle's rootfs and namespaces, timed by
# one hyperfine invocation in rounds (see bench/start.sh for why). The
# runc and crun containers run the config.json `stepbox spec` writes; the
# stepbox ones, the same description made by run's flags, with the minimal
# init.
#
# Needs root, hyperfine, runc, crun, a static busybox.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in hyperfine runc crun busybox unshare; do
	command -v "$tool" >/dev/null || { echo "bench/exec.sh: $tool is missing: apt-get install hyperfine runc crun busybox-static" >&2; exit 1; }
done
bin=$(pwd)/bin/stepbox
[ -x "$bin" ] || make -s build
runs=${RUNS:-100}
rounds=${ROUNDS:-5}
work=$(mktemp -d /tmp/stepbox-bench-exec-XXXXXX)
state=$work/state
eb=$work/execbench
crun_wrap="unshare -m sh -c 'mount --make-rprivate /; umount /sys/fs/cgroup/unified 2>/dev/null; exec \"\$0\" \"\$@\"'"
cleanup() {
	runc delete -f bench-exec-runc >/dev/null 2>&1 || true
	eval "$crun_wrap crun delete -f bench-exec-crun" >/dev/null 2>&1 || true
	[ -x "$eb" ] && "$eb" rm "$state" bench-exec >/dev/null 2>&1 || true
	"$bin" --root "$work/cli" rm -f bench-exec-cli >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

# execbench is built as stepbox is, and finds stepbox-init and
# stepbox-exec beside it, as stepbox does.
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$eb" ./bench/execbench
cp bin/stepbox-init bin/stepbox-exec "$work/"

rootfs=$work/bundle/rootfs
mkdir -p "$rootfs"/{bin,proc,sys,dev,etc,tmp,root}
cp "$(command -v busybox)" "$rootfs/bin/busybox"
for a in $(busybox --list); do [ "$a" = busybox ] || ln -s busybox "$rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
ns=uts,pid,mnt,ipc,net,cgroup
(cd "$work/bundle" && "$bin" spec --oci-1.0 --rootfs rootfs --ns "$ns" -- sleep 1000000 >config.json)

"$eb" start "$state" bench-exec "$work/bundle"
"$bin" --root "$work/cli" run -d --name bench-exec-cli --rootfs "$rootfs" --ns "$ns" -- sleep 1000000 >/dev/null
runc run -d -b "$work/bundle" bench-exec-runc </dev/null >/dev/null 2>&1
eval "$crun_wrap crun run -d -b $work/bundle bench-exec-crun" </dev/null >/dev/null 2>&1

echo "## Exec latency ($(nproc) CPUs, kernel $(uname -r); $runs runs each in $rounds rounds, hyperfine -N, medians)"
echo
for k in $(seq "$rounds"); do
	hyperfine -N -w 3 -r "$((runs / rounds))" --export-json "$work/exec-$k.json" \
		-n /bin/true /bin/true \
		-n "stepbox exec" "$bin --root $work/cli exec bench-exec-cli /bin/true" \
		-n "Container.Exec" "$eb exec $state bench-exec /bin/true" \
		-n "runc exec" "runc exec bench-exec-runc /bin/true" \
		-n "crun exec (wrapped)" "$crun_wrap crun exec bench-exec-crun /bin/true" \
		-n "crun wrapper alone" "$crun_wrap true" >/dev/null
done
go run ./bench/summarize -base "runc exec" "$work"/exec-*.json
echo
echo "Goal: stepbox exec at most runc exec's median."
