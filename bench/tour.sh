#!/usr/bin/env bash
# bench/tour.sh: the whole course under --auto, start to end, and each
# step's time from the JSON transcript (issue 4: the tour under 10 s, every
# step under half a second).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(pwd)/bin/stepbox
[ -x "$bin" ] || make -s build
out=$(mktemp -d /tmp/stepbox-bench-tour-XXXXXX)
trap 'rm -rf "$out"' EXIT INT TERM
export XDG_STATE_HOME=$out/state
ROOTFS_FLAG=()
[ -n "${ROOTFS:-}" ] && ROOTFS_FLAG=(--rootfs "$ROOTFS")
echo
echo "### stepbox tour --auto"
echo
hyperfine -N -w 1 -r "${RUNS:-5}" --export-json "$out/tour.json" "$bin tour --auto ${ROOTFS_FLAG[*]}" >/dev/null
go run ./bench/summarize "$out/tour.json"
"$bin" tour --json "${ROOTFS_FLAG[@]}" >"$out/t.json" || true
go run ./bench/steps "$out/t.json"
