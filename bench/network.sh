#!/usr/bin/env bash
# bench/network.sh: what a network costs a container (issue 11).
#
#   start latency   stepbox run --rm of /bin/true, start to exit, with no
#                   network flag (a namespace with only lo, as before), with
#                   --network none (the same, plus its own /etc/hosts,
#                   resolv.conf and hostname bound in), on a bridge network
#                   (an address, a veth pair, the default route, its
#                   /etc/hosts rewritten), and on it with a published port
#                   (a socket bound and a proxy started); hyperfine, the
#                   commands taking turns in rounds, medians, ratios to
#                   --network none
#   against runc    stepbox run --rm --network bridge (the default
#                   network) against runc run of the same bundle (written
#                   by `stepbox spec`) whose createRuntime hook,
#                   bench/vethhook, wires a veth the way stepbox does (netlink,
#                   the same library): host end on a bridge the bench makes
#                   (sbbench0, 10.211.0.0/16, forwarding off, removed after),
#                   the other end moved into the container's namespace with
#                   an address, up, and a default route; each also without a
#                   network (a namespace with only lo), ratios to runc with
#                   the veth. runc keeps no address book: its address comes
#                   from its pid, where stepbox takes a lease under a lock
#                   and writes the container's /etc/hosts
#   first answer    run -d of busybox httpd with -p 127.0.0.1:PORT:80: when
#                   run -d returns, and when the first HTTP request through
#                   the port proxy is answered (bench/firstanswer), with the
#                   proxy's memory
#
# The network is made for the run on a free /24 of 10.210.0.0/16 and
# removed after; nothing leaves the machine. Needs root, hyperfine and a
# static busybox.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in hyperfine busybox runc ip; do
	command -v "$tool" >/dev/null || { echo "bench/network.sh: $tool is missing: apt-get install hyperfine busybox-static runc iproute2" >&2; exit 1; }
done
bin=$(pwd)/bin/stepbox
[ -x "$bin" ] || make -s build
runs=${RUNS:-100}
rounds=${ROUNDS:-5}
work=$(mktemp -d /tmp/stepbox-bench-network-XXXXXX)
state=$work/state
cleanup() {
	ids=$("$bin" --root "$state" ps -aq 2>/dev/null || true)
	[ -z "$ids" ] || "$bin" --root "$state" rm -f $ids >/dev/null 2>&1 || true
	"$bin" --root "$state" network rm benchnet >/dev/null 2>&1 || true
	"$bin" --root "$state" network rm bridge >/dev/null 2>&1 || true
	runc delete -f bench-netrunc >/dev/null 2>&1 || true
	ip link del sbbench0 >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

rootfs=$work/rootfs
mkdir -p "$rootfs"/{bin,proc,sys,dev,etc,tmp,root,www}
cp "$(command -v busybox)" "$rootfs/bin/busybox"
for a in $(busybox --list); do [ "$a" = busybox ] || ln -s busybox "$rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
printf '127.0.0.1\tlocalhost\n' >"$rootfs/etc/hosts"
: >"$rootfs/etc/resolv.conf"
echo stepbox >"$rootfs/etc/hostname"
echo hello >"$rootfs/www/index.html"

"$bin" --root "$state" network create benchnet >/dev/null
subnet=$("$bin" --root "$state" network ls --format json | awk -F'"' '/"Name":"benchnet"/ { for (i = 1; i < NF; i++) if ($i == "Subnet") print $(i + 2) }')
run="$bin --root $state run --rm --rootfs $rootfs"

echo "## What a network costs a container (stepbox $("$bin" --version | awk '{print $2}'), $(nproc) CPUs, kernel $(uname -r), network benchnet $subnet)"
echo
echo "### Start latency, run --rm /bin/true ($runs runs each in $rounds rounds, hyperfine -N, medians)"
echo
for k in $(seq "$rounds"); do
	hyperfine -N -w 3 -r "$((runs / rounds))" --export-json "$work/start-$k.json" \
		-n "no network flag" "$run -- /bin/true" \
		-n "network none" "$run --network none -- /bin/true" \
		-n "network benchnet" "$run --network benchnet -- /bin/true" \
		-n "network benchnet, -p 127.0.0.1::80" "$run --network benchnet -p 127.0.0.1::80 -- /bin/true" >/dev/null
done
go run ./bench/summarize -base "network none" "$work"/start-*.json

echo
echo "### Start latency on a bridge against runc with a veth made the same way ($runs runs each in $rounds rounds, hyperfine -N, medians)"
echo
if ip -o route | grep -q '^10\.211\.'; then
	echo "bench/network.sh: the host routes 10.211.0.0/16 already; the runc comparison is skipped" >&2
else
	go build -o "$work/vethhook" ./bench/vethhook
	ip link add sbbench0 type bridge
	echo 0 >/proc/sys/net/ipv4/conf/sbbench0/forwarding
	ip addr add 10.211.0.1/16 dev sbbench0
	ip link set sbbench0 up
	bundle=$work/bundle
	mkdir -p "$bundle"
	ns=uts,pid,mnt,ipc,net,cgroup
	(cd "$bundle" && "$bin" spec --oci-1.0 --rootfs "$rootfs" --ns "$ns" -- /bin/true >config.json)
	cp -r "$bundle" "$work/bundle-veth"
	"$work/vethhook" add "$work/bundle-veth/config.json" sbbench0 10.211.0.1/16
	for k in $(seq "$rounds"); do
		hyperfine -N -w 3 -r "$((runs / rounds))" --export-json "$work/runc-$k.json" \
			-n "runc run, lo only" "runc run -b $bundle bench-netrunc" \
			-n "runc run, veth on a bridge (hook)" "runc run -b $work/bundle-veth bench-netrunc" \
			-n "stepbox run --network none" "$run --ns $ns --network none -- /bin/true" \
			-n "stepbox run --network bridge" "$run --ns $ns --network bridge -- /bin/true" >/dev/null
	done
	go run ./bench/summarize -base "veth on a bridge" "$work"/runc-*.json
	ip link del sbbench0
fi

echo
echo "### A published port's first answer (run -d of busybox httpd, ${FIRST:-20} runs, medians)"
echo
go run ./bench/firstanswer -n "${FIRST:-20}" -stepbox "$bin" -root "$state" -- \
	"$bin" --root "$state" run -d --rootfs "$rootfs" --network benchnet -p "127.0.0.1:%d:80" -- httpd -f -p 80 -h /www
left=$("$bin" --root "$state" network inspect benchnet | grep -c IPv4Address || true)
echo
echo "Addresses still given on benchnet after the runs: $left (want 0)."
