#!/usr/bin/env bash
# bench/start.sh: container start latency, start to exit of /bin/true, for
# stepbox run against runc and crun (Debian's packages) on one OCI bundle,
# with plain /bin/true and unshare(1) as floors, all timed by one hyperfine
# invocation so the numbers compare (the machines are shared and noisy:
# quote ratios and medians, never a lone absolute figure).
#
# Two rounds:
#   plain   the namespaces of `stepbox run` but time (runc 1.1 does not know
#           the time namespace), no limits, no seccomp filter
#   limits  the same plus --memory 64m --cpus 0.5 --pids-limit 100, and
#           docker's seccomp profile on all three (issue 5)
# The bundle's config.json is written by `stepbox spec` from the same flags,
# so all three runtimes start exactly the same container.
#
# crun 1.8 refuses the hybrid cgroup layout of the build machines; it runs
# inside a private mount namespace with the unified hierarchy unmounted
# (../shared/notes/host-facts.md), and that wrapper is measured alone too.
#
# Needs root, hyperfine, runc, crun, GNU time, a static busybox:
#   apt-get install hyperfine runc crun time busybox-static
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in hyperfine runc crun busybox unshare; do
	command -v "$tool" >/dev/null || { echo "bench/start.sh: $tool is missing: apt-get install hyperfine runc crun time busybox-static" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "bench/start.sh: GNU time is missing: apt-get install time" >&2; exit 1; }

bin=$(pwd)/bin/stepbox
[ -x "$bin" ] || make -s build
runs=${RUNS:-100}
rounds=${ROUNDS:-5}
work=$(mktemp -d /tmp/stepbox-bench-XXXXXX)
state=$work/state
cleanup() {
	runc delete -f bench-runc >/dev/null 2>&1 || true
	"$bin" --root "$state" rm -f bench >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

# The runtime alone, in a binary that links nothing else (bench/runbench),
# beside stepbox-init and stepbox-exec (the minimal init in C) as bin/stepbox
# has them: what the command line's own start (its size, the libraries of
# its other commands) adds to a run.
runbench=$work/runbench
go build -trimpath -ldflags '-s -w' -o "$runbench" ./bench/runbench
cp "$(pwd)/bin/stepbox-init" "$work/stepbox-init"
[ ! -x bin/stepbox-exec ] || cp "$(pwd)/bin/stepbox-exec" "$work/stepbox-exec"

# The rootfs: static busybox, every applet.
rootfs=$work/bundle/rootfs
mkdir -p "$rootfs"/{bin,proc,sys,dev,etc,tmp,root}
cp "$(command -v busybox)" "$rootfs/bin/busybox"
for a in $(busybox --list); do [ "$a" = busybox ] || ln -s busybox "$rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"

ns=uts,pid,mnt,ipc,net,cgroup
crun_wrap="unshare -m sh -c 'mount --make-rprivate /; umount /sys/fs/cgroup/unified 2>/dev/null; exec \"\$0\" \"\$@\"'"

round() {
	local name=$1
	shift
	# SPACED=S: a pause of S seconds before each run, untimed (a start on a
	# quiet machine, the usual case for a person at a terminal).
	local prepare=()
	if [ -n "${SPACED:-}" ]; then
		prepare=(--prepare "sleep $SPACED")
	fi
	local flags=("$@")
	(cd "$work/bundle" && "$bin" spec --oci-1.0 --rootfs rootfs --ns "$ns" "${flags[@]}" -- /bin/true >config.json)
	local run="$bin --root $state run --rm --rootfs $rootfs --ns $ns ${flags[*]} -- /bin/true"
	local runc_cmd="runc run -b $work/bundle bench-runc"
	local crun_cmd="$crun_wrap crun run -b $work/bundle bench-crun"
	local wrap_cmd="$crun_wrap true"
	local floor="unshare --uts --pid --mount --ipc --net --cgroup --fork --mount-proc /bin/true"
	echo
	echo "### $name ($runs runs each in $rounds rounds, hyperfine -N, medians)"
	echo
	# hyperfine runs each command's runs together; the machines drift, so
	# the commands take turns, $rounds times, and the rounds are merged.
	local k
	for k in $(seq "$rounds"); do
		hyperfine -N -w 3 -r "$((runs / rounds))" "${prepare[@]}" --export-json "$work/$name-$k.json" \
			-n /bin/true /bin/true -n unshare "$floor" -n "stepbox run" "$run" -n "runtime alone (runbench)" "$runbench $state $work/bundle" \
			-n "runc run" "$runc_cmd" -n "crun run (wrapped)" "$crun_cmd" -n "crun wrapper alone" "$wrap_cmd" >/dev/null
	done
	# Peak RSS of the largest process of each, by GNU time (wait4's
	# ru_maxrss covers the waited-for descendants).
	: >"$work/$name.rss"
	for pair in "stepbox run|$run" "runc run|$runc_cmd" "crun run (wrapped)|$crun_cmd" "unshare|$floor"; do
		local label=${pair%%|*} cmd=${pair#*|}
		kib=$(/usr/bin/time -f %M sh -c "$cmd" 2>&1 >/dev/null | tail -1)
		printf '%s\t%s\n' "$label" "$kib" >>"$work/$name.rss"
	done
	go run ./bench/summarize -base "runc run" "$work/$name"-*.json "$work/$name.rss"
}

echo "## Container start latency (stepbox $("$bin" --version | awk '{print $2}'), $(nproc) CPUs, kernel $(uname -r))"
round plain --security-opt seccomp=unconfined
round limits --memory 64m --cpus 0.5 --pids-limit 100
# The same plain start after a quiet spell: a cgroup migration then waits
# for an RCU grace period (runc pays it; stepbox's init is born in its
# cgroups), and idle CPUs must wake up.
runs=$((runs / 2)) SPACED=0.2 round "plain, 200 ms apart" --security-opt seccomp=unconfined
echo
echo "Goal (issue 14): stepbox run at most 0.5 of runc's median and at most crun's; peak RSS under runc's."
