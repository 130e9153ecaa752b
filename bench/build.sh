#!/usr/bin/env bash
# bench/build.sh: `stepbox build` of a small Dockerfile (a base image, a RUN,
# a COPY, metadata) against `buildah bud --isolation chroot` on the same
# context and the same base image, timed by hyperfine in one run (the build
# machines are shared and noisy: quote the ratios).
#
#   cold:   every step built (stepbox --no-cache; buildah --no-cache --layers)
#   cached: an unchanged context, every step from the cache (both --layers)
#
# buildah (podman build is the same code) runs with its own --root and
# --runroot under one temporary directory, removed at the end, with
# --network host: its chroot isolation makes no network namespace and
# refuses none, and touches no firewall. Needs root, hyperfine, buildah.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in hyperfine buildah; do
	command -v "$tool" >/dev/null || { echo "bench/build.sh: $tool is missing: apt-get install hyperfine buildah" >&2; exit 1; }
done
bin=$(pwd)/bin/stepbox
[ -x "$bin" ] || make -s build
runs=${RUNS:-10}
work=$(mktemp -d /var/tmp/stepbox-bench-build.XXXXXX)
root="$work/stepbox"
bst=(--root "$work/b-root" --runroot "$work/b-run" --storage-driver vfs)
cleanup() {
	buildah "${bst[@]}" rm --all >/dev/null 2>&1 || true
	buildah "${bst[@]}" rmi --all --force >/dev/null 2>&1 || true
	umount -R "$work/b-root" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

# The base image: busybox, imported into stepbox and saved for buildah.
mkdir -p "$work/base/bin" "$work/ctx"
cp "$(command -v busybox)" "$work/base/bin/busybox"
for t in sh echo cat mkdir; do ln -s busybox "$work/base/bin/$t"; done
tar -C "$work/base" -cf "$work/base.tar" .
"$bin" --root "$root" import "$work/base.tar" bench/base:1 >/dev/null
"$bin" --root "$root" save -o "$work/base-docker.tar" bench/base:1
head -c 1M /dev/urandom >"$work/ctx/data.bin"
cat >"$work/ctx/Dockerfile" <<'DF'
ARG BASE=bench/base:1
FROM $BASE
RUN mkdir -p /app && echo built > /app/built
COPY data.bin /app/
ENV APP=/app
WORKDIR /app
CMD ["cat", "built"]
DF
sb="$bin --root $root build -q -t bench/app:1"
bb="buildah ${bst[*]} bud -q --isolation chroot --network host --layers --build-arg BASE=docker-archive:$work/base-docker.tar -t app:1"
$sb "$work/ctx" >/dev/null
$bb "$work/ctx" >/dev/null
echo "## stepbox build against buildah bud (bench/build.sh), $runs runs each"
hyperfine -N --warmup 1 --runs "$runs" --export-markdown "$work/cold.md" \
	-n "stepbox build --no-cache" "$sb --no-cache $work/ctx" \
	-n "buildah bud --no-cache" "$bb --no-cache $work/ctx" >/dev/null
hyperfine -N --warmup 1 --runs "$runs" --export-markdown "$work/cached.md" \
	-n "stepbox build (cached)" "$sb $work/ctx" \
	-n "buildah bud --layers (cached)" "$bb $work/ctx" >/dev/null
cat "$work/cold.md" "$work/cached.md"
