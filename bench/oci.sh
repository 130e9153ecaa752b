#!/usr/bin/env bash
# bench/oci.sh: stepbox as an OCI runtime against runc and crun (Debian's
# packages), in one hyperfine invocation each, so the medians compare:
#
#   lifecycle  create + start + delete of one busybox bundle (/bin/true),
#              each runtime called by path as an engine calls it
#   podman     podman run --rm busybox true with --runtime pointing at each
#              (podman 4.3, conmon, cgroupfs, no network, vfs storage, all
#              under a temporary folder)
#
# crun 1.8 refuses the hybrid cgroup layout of the build machines and
# accepts only a "1.0" ociVersion: it runs through a wrapper that unmounts
# the unified hierarchy in a private mount namespace and rewrites the
# version (../shared/notes/host-facts.md); the wrapper's own cost is in its
# numbers, and measured alone on the last line.
#
# Needs root, hyperfine, runc, crun, podman, busybox-static.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in hyperfine runc crun busybox podman; do
	command -v "$tool" >/dev/null || { echo "bench/oci.sh: $tool is missing: apt-get install hyperfine runc crun podman busybox-static" >&2; exit 1; }
done
[ -x bin/runc ] || make -s build
stepbox=$(pwd)/bin/runc
runs=${RUNS:-50}
work=$(mktemp -d /tmp/stepbox-bench-oci-XXXXXX)
# podman's cgroupfs manager leaves conmon's cgroup (libpod_parent/conmon):
# removed at the end if this run made it.
had_libpod=$(ls -d /sys/fs/cgroup/*/libpod_parent 2>/dev/null || true)
cleanup() {
	for rt in stepbox runc crun; do
		[ -x "$work/$rt" ] && "$work/$rt" delete --force bench >/dev/null 2>&1 || true
	done
	[ -x "$work/podman" ] && "$work/podman" rm --all --force --time 0 >/dev/null 2>&1 || true
	rm -rf "$work"
	if [ -z "$had_libpod" ]; then
		for d in /sys/fs/cgroup/*/libpod_parent; do
			[ -d "$d" ] && { rmdir "$d/conmon" 2>/dev/null; rmdir "$d" 2>/dev/null; }
		done
	fi
	true
}
trap cleanup EXIT INT TERM

rootfs=$work/bundle/rootfs
mkdir -p "$rootfs"/{bin,proc,sys,dev,etc,tmp,root}
cp "$(command -v busybox)" "$rootfs/bin/busybox"
for a in $(busybox --list); do [ "$a" = busybox ] || ln -s busybox "$rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
(cd "$work/bundle" && "$stepbox" spec)
sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"true"/; s/"ociVersion": "[^"]*"/"ociVersion": "1.0.2-dev"/' "$work/bundle/config.json"

# One wrapper per runtime, each with a state root of its own.
printf '#!/bin/sh\nexec %s --root %s "$@"\n' "$stepbox" "$work/state-stepbox" >"$work/stepbox"
printf '#!/bin/sh\nexec runc --root %s "$@"\n' "$work/state-runc" >"$work/runc"
printf '#!/bin/sh\nexec %s %s "$@"\n' "$(pwd)/scripts/crun-hybrid" "$work/state-crun" >"$work/crun"
printf '#!/bin/sh\nexec unshare -m sh -c '\''mount --make-rprivate / && { umount /sys/fs/cgroup/unified 2>/dev/null || true; } && exec /bin/true'\''\n' >"$work/wrapper-alone"
chmod +x "$work"/stepbox "$work"/runc "$work"/crun "$work"/wrapper-alone

echo "## create + start + delete of a bundle (/bin/true), $runs runs each"
cmds=()
for rt in stepbox runc crun; do
	cmds+=(-n "$rt" "$work/$rt create --bundle $work/bundle bench && $work/$rt start bench && $work/$rt delete --force bench")
done
hyperfine --warmup 3 --runs "$runs" --export-json "$work/lifecycle.json" "${cmds[@]}" -n "crun wrapper alone" "$work/wrapper-alone" >/dev/null
go run ./bench/summarize -base runc "$work/lifecycle.json"

echo
echo "## podman run --rm busybox true, $runs runs each"
p=$work/p
mkdir -p "$p"
printf '[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n[network]\ndefault_network = "none"\n' >"$p/containers.conf"
printf '[storage]\ndriver = "vfs"\ngraphroot = "%s"\nrunroot = "%s"\n' "$p/root" "$p/runroot" >"$p/storage.conf"
cat >"$work/podman" <<WRAP
#!/bin/sh
rt=\$1; shift
exec env CONTAINERS_CONF=$p/containers.conf CONTAINERS_STORAGE_CONF=$p/storage.conf CONTAINERS_REGISTRIES_CONF=/dev/null \
	podman --root $p/root --runroot $p/runroot --tmpdir $p/tmp --storage-driver vfs --cgroup-manager=cgroupfs \
	--events-backend=file --runtime "\$rt" "\$@"
WRAP
chmod +x "$work/podman"
tar -C "$rootfs" -cf "$work/busybox.tar" .
"$work/podman" "$work/stepbox" import "$work/busybox.tar" localhost/busybox:bench >/dev/null
cmds=()
for rt in stepbox runc crun; do
	cmds+=(-n "podman --runtime $rt" "$work/podman $work/$rt run --rm --network none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 localhost/busybox:bench true")
done
hyperfine -N --warmup 2 --runs "$runs" --export-json "$work/podman.json" "${cmds[@]}" >/dev/null
go run ./bench/summarize -base "runtime runc" "$work/podman.json"
