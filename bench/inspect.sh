#!/usr/bin/env bash
# bench/inspect.sh: how fast the inspector is against util-linux lsns, whole
# process start to exit, measured by hyperfine in one run so the numbers
# compare (the build machines are shared and noisy: quote the ratios).
#
#   1. stepbox inspect PID --json   vs  lsns -p PID -J   (one process, the
#      host as it is: lsns -p walks every process, so extra ones would only
#      slow lsns down)
#   2. stepbox ns                   vs  lsns -J          (1000 extra processes)
# Each pair is timed by one hyperfine invocation, one after the other.
#
# Goal: no slower than lsns, and under 20 ms for one process.
# Needs root (to read the target's namespaces), hyperfine, lsns, unshare.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${STEPBOX:-bin/stepbox}
[ -x "$bin" ] || make -s build
runs=${RUNS:-200}
extra=${EXTRA:-1000}
out=$(mktemp -d)

pids=()
cleanup() {
	# Every process this script started, by PID, children first.
	if [ "${#pids[@]}" -gt 0 ]; then
		kill "${pids[@]}" 2>/dev/null || true
		wait "${pids[@]}" 2>/dev/null || true
	fi
	rm -rf "$out"
}
trap cleanup EXIT INT TERM

# The one target: its own UTS, IPC and network namespaces, so inspect has to
# enter them (setns on a locked thread) and not just read files.
unshare --uts --ipc --net --fork sleep 600 &
pids+=($!)
target=""
for _ in $(seq 100); do
	target=$(cat "/proc/${pids[0]}/task/${pids[0]}/children" 2>/dev/null | awk '{print $1}')
	[ -n "$target" ] && break
	sleep 0.01
done
[ -n "$target" ] || { echo "the target did not start" >&2; exit 1; }
pids=("$target" "${pids[@]}")

# --ignore-failure: lsns exits 1 when a process vanishes during its scan
# (seen on a busy machine); the exit codes are checked below, and a failing
# stepbox run fails the benchmark.
hf() { hyperfine -N --ignore-failure --warmup 10 --runs "$runs" --style basic "$@" >&2; }

echo "== one process: target PID $target, $(ls -d /proc/[0-9]* | wc -l) processes on the host" >&2
hf --export-json "$out/one.json" \
	-n "stepbox inspect PID --json" "$bin inspect $target --json" \
	-n "lsns -p PID -J" "lsns -p $target -J"

for _ in $(seq "$extra"); do
	sleep 600 &
	pids+=($!)
done
nprocs=$(ls -d /proc/[0-9]* | wc -l)
echo "== every namespace: $nprocs processes on the host" >&2
hf --export-json "$out/all.json" \
	-n "stepbox ns" "$bin ns" \
	-n "lsns -J" "lsns -J"

python3 - "$out/one.json" "$out/all.json" "$nprocs" <<'PY'
import json, sys
res = {}
for f in sys.argv[1:3]:
    res.update({r["command"]: r for r in json.load(open(f))["results"]})
ms = lambda name: res[name]["median"] * 1000
for name, r in res.items():
    failed = sum(1 for c in r["exit_codes"] if c != 0)
    if failed and name.startswith("stepbox"):
        sys.exit(f"{name}: {failed} of {len(r['exit_codes'])} runs failed")
    if failed:
        print(f"note: {name} failed {failed} of {len(r['exit_codes'])} runs", file=sys.stderr)
print("| benchmark | stepbox median | lsns median | stepbox / lsns |")
print("|---|---|---|---|")
for ours, theirs, what in (("stepbox inspect PID --json", "lsns -p PID -J", "one process"),
                           ("stepbox ns", "lsns -J", sys.argv[3] + " processes")):
    print(f"| `{ours}` vs `{theirs}` ({what}) | {ms(ours):.2f} ms | {ms(theirs):.2f} ms | {ms(ours)/ms(theirs):.2f} |")
PY
