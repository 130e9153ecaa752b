#!/usr/bin/env bash
# bench/monitor.sh: the memory of a detached container's monitor (issue 10),
# read from /proc/PID/status (VmRSS, RssAnon, RssFile) and smaps_rollup
# (Pss: the file pages shared by every monitor counted once among them),
# medians over N monitors running side by side. Three ways to be a monitor:
#
#   lean     what stepbox does: the monitor execve(2)s into stepbox-init's
#            lean phase (sandbox/monitor_lean.go); idle, and then busy:
#            logging a line a millisecond with two `stepbox attach` reading
#   stepbox  the same lean phase in stepbox's own binary (what happens when
#            no trusted stepbox-init is installed beside stepbox)
#   staying  stepbox as it is right after creating the container, had it
#            stayed instead of execve'ing (stopped there by the tests' stall
#            hook)
#
# and, for the scale of things, the container's own minimal init, and the
# time `run -d` takes to print the id beside a foreground `run`.
#
# Needs root, hyperfine and a static busybox.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in hyperfine busybox; do
	command -v "$tool" >/dev/null || { echo "bench/monitor.sh: $tool is missing: apt-get install hyperfine busybox-static" >&2; exit 1; }
done
[ -x bin/stepbox ] || make -s build
n=${MONITORS:-10}
work=$(mktemp -d /tmp/stepbox-bench-monitor-XXXXXX)
chmod 755 "$work"
cleanup() {
	for dir in "$work"/bin-*; do
		[ -x "$dir/stepbox" ] || continue
		ids=$("$dir/stepbox" --root "$work/state" ps -aq 2>/dev/null || true)
		[ -z "$ids" ] || "$dir/stepbox" --root "$work/state" rm -f $ids >/dev/null 2>&1 || true
	done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

rootfs=$work/rootfs
mkdir -p "$rootfs"/{bin,proc,sys,dev,etc,tmp,root}
cp "$(command -v busybox)" "$rootfs/bin/busybox"
for a in $(busybox --list); do [ "$a" = busybox ] || ln -s busybox "$rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"

# Two installs: stepbox with stepbox-init beside it, and stepbox alone.
mkdir -p "$work/bin-lean" "$work/bin-stepbox"
cp bin/stepbox bin/stepbox-init "$work/bin-lean/"
cp bin/stepbox "$work/bin-stepbox/"

field() { awk -v k="$2:" '$1 == k { print $2 }' "$1"; }
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2)) }'; }

# measure NAME PIDS...: one table row from the processes' memory.
measure() {
	local name=$1
	shift
	local rss anon file pss
	rss=$(for p in "$@"; do field "/proc/$p/status" VmRSS; done | median)
	anon=$(for p in "$@"; do field "/proc/$p/status" RssAnon; done | median)
	file=$(for p in "$@"; do field "/proc/$p/status" RssFile; done | median)
	pss=$(for p in "$@"; do field "/proc/$p/smaps_rollup" Pss; done | median)
	printf '| %s | %s | %s | %s | %s |\n' "$name" "$((rss))" "$anon" "$file" "$pss"
}

# monitors BIN [ENV...]: start $n detached containers, print their
# monitors' pids (and the inits' in $work/inits).
monitors() {
	local bin=$1
	shift
	: >"$work/inits"
	local i
	for i in $(seq "$n"); do
		env "$@" "$bin" --root "$work/state" run -d --rootfs "$rootfs" -- sleep 1000 >"$work/id" 2>/dev/null &
		if [ $# -gt 0 ]; then
			# Stopped by the stall hook before it prints: find it stopped.
			local pidfile=${1#*:}
			while ! [ -s "$pidfile" ]; do sleep 0.01; done
			cat "$pidfile"
			echo
			rm -f "$pidfile"
			wait
			continue
		fi
		wait
		local st=$work/state/run/$(cat "$work/id")/state.json
		awk -F'[:,]' '/^  "pid":/ { gsub(/ /, "", $2); print $2 }' "$st" >>"$work/inits"
		awk -F'[:,]' '/"monitorPid":/ { gsub(/ /, "", $2); print $2 }' "$st"
	done
}

echo
echo "### Monitor memory, $n containers running at once (KiB, medians)"
echo
echo "| monitor | VmRSS | RssAnon | RssFile | Pss |"
echo "|---|---|---|---|---|"
mapfile -t pids < <(monitors "$work/bin-lean/stepbox")
measure "lean (stepbox-init, $(du -k bin/stepbox-init | cut -f1) KiB)" "${pids[@]}"
mapfile -t inits <"$work/inits"
measure "(the container's minimal init)" "${inits[@]}"
"$work/bin-lean/stepbox" --root "$work/state" rm -f $("$work/bin-lean/stepbox" --root "$work/state" ps -aq) >/dev/null
# The lean monitor at work: each container prints a line every
# millisecond or so, and two `stepbox attach` read it all the while.
pids=()
attaches=()
for i in $(seq "$n"); do
	id=$("$work/bin-lean/stepbox" --root "$work/state" run -d --rootfs "$rootfs" -- sh -c 'while :; do echo a line of output; usleep 1000; done')
	for j in 1 2; do
		"$work/bin-lean/stepbox" --root "$work/state" attach --no-stdin "$id" >/dev/null 2>&1 &
		attaches+=("$!")
	done
	pids+=("$(awk -F'[:,]' '/"monitorPid":/ { gsub(/ /, "", $2); print $2 }' "$work/state/run/$id/state.json")")
done
sleep 3
measure "lean, logging with 2 attaches each" "${pids[@]}"
kill "${attaches[@]}" 2>/dev/null || true
wait "${attaches[@]}" 2>/dev/null || true
"$work/bin-lean/stepbox" --root "$work/state" rm -f $("$work/bin-lean/stepbox" --root "$work/state" ps -aq) >/dev/null
mapfile -t pids < <(monitors "$work/bin-stepbox/stepbox")
measure "lean phase in stepbox ($(du -k bin/stepbox | cut -f1) KiB)" "${pids[@]}"
"$work/bin-stepbox/stepbox" --root "$work/state" rm -f $("$work/bin-stepbox/stepbox" --root "$work/state" ps -aq) >/dev/null
mapfile -t pids < <(monitors "$work/bin-lean/stepbox" "_STEPBOX_TEST_STALL=monitor-reported:$work/stalled")
measure "staying: stepbox after creating" "${pids[@]}"
for p in "${pids[@]}"; do kill -KILL "$p"; done
sleep 0.5
"$work/bin-lean/stepbox" --root "$work/state" rm -f $("$work/bin-lean/stepbox" --root "$work/state" ps -aq) >/dev/null

echo
echo "### run -d against run (start to the prompt's return, hyperfine -N, medians)"
echo
b=$work/bin-lean/stepbox
hyperfine -N -w 3 -r "${RUNS:-30}" --export-json "$work/d.json" \
	-n "stepbox run --rm -- true" "$b --root $work/state run --rm --rootfs $rootfs -- true" \
	-n "stepbox run -d --rm -- true" "$b --root $work/state run -d --rm --rootfs $rootfs -- true" >/dev/null
go run ./bench/summarize -base 'stepbox run --rm' "$work/d.json"
