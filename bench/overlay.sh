#!/usr/bin/env bash
# bench/overlay.sh: what a container's own layer costs at start. Start to
# exit of /bin/true, hyperfine -N, all in one invocation per round so the
# numbers compare (the machines are shared and noisy: quote ratios):
#
#   run --rootfs DIR   a plain directory, no overlay, no store (the
#                      built-in root filesystem's directory)
#   run IMAGE          the same files imported as an image: the store marks
#                      it in use, makes the container's upper and work
#                      directories, the init mounts the overlay, rm takes
#                      them back
#   run -- /bin/true   the default: the built-in image (the same, plus the
#                      check that it is the current build's)
#   BASELINE=path      another build's `run -- /bin/true` beside them (main's,
#                      whose default was the plain directory), to see what
#                      the default's start became
#
# Needs root and hyperfine. Everything lives under one temporary --root.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "bench/overlay.sh: hyperfine is missing: apt-get install hyperfine" >&2; exit 1; }
bin=$(pwd)/bin/stepbox
[ -x "$bin" ] || make -s build
runs=${RUNS:-100}
rounds=${ROUNDS:-5}
work=$(mktemp -d /tmp/stepbox-bench-overlay-XXXXXX)
chmod 711 "$work"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT INT TERM

root=$work/root
# The first run builds the built-in root filesystem and imports its image.
"$bin" --root "$root" run --rm -- /bin/true
dir=$root/lib/rootfs/default
tar -C "$dir" --exclude ./.stepbox-manifest.json -cf "$work/rootfs.tar" .
"$bin" --root "$root" import "$work/rootfs.tar" bench/plain:1 >/dev/null
cmds=(-n "run --rootfs DIR" "$bin --root $root run --rm --rootfs $dir -- /bin/true"
	-n "run IMAGE" "$bin --root $root run --rm bench/plain:1 /bin/true"
	-n "run -- /bin/true (built-in image)" "$bin --root $root run --rm -- /bin/true")
if [ -n "${BASELINE:-}" ]; then
	broot=$work/baseline
	"$BASELINE" --root "$broot" run --rm -- /bin/true
	cmds+=(-n "baseline run -- /bin/true" "$BASELINE --root $broot run --rm -- /bin/true")
fi
echo
echo "### A container's own layer at start ($runs runs each in $rounds rounds, hyperfine -N, medians; $(nproc) CPUs, kernel $(uname -r))"
echo
for k in $(seq "$rounds"); do
	hyperfine -N -w 3 -r "$((runs / rounds))" --export-json "$work/overlay-$k.json" "${cmds[@]}" >/dev/null
done
go run ./bench/summarize -base "run --rootfs DIR" "$work"/overlay-*.json
left=$(ls "$root/lib/images/containers" | wc -l)
[ "$left" = 0 ] || { echo "bench/overlay.sh: $left container layers left in the store" >&2; exit 1; }
