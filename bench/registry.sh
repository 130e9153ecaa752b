#!/usr/bin/env bash
# bench/registry.sh: push and pull of a 100 MiB image (one gzip layer of
# random data, so no tool can win by compressing) to a docker-registry on
# 127.0.0.1, against `skopeo copy` of the same image, timed by hyperfine in
# rounds in one run (the build machines are shared and noisy: quote the
# ratios).
#
#   push: stepbox push  vs  skopeo copy oci:DIR docker://   (the registry's
#         storage is emptied before every run, so every run uploads)
#   pull: stepbox pull (fetch, verify, unpack)  vs  skopeo copy docker://
#         oci:DIR (fetch and verify, no unpacking), and that followed by
#         umoci unpack (the same work as stepbox's, by two tools)
#
# Needs root, hyperfine, skopeo, umoci, docker-registry, python3 (a free
# port). The registry is the test's kind: its own config and storage under
# one temporary directory, stopped and removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in hyperfine skopeo umoci docker-registry python3; do
	command -v "$tool" >/dev/null || { echo "bench/registry.sh: $tool is missing: apt-get install hyperfine skopeo umoci docker-registry python3" >&2; exit 1; }
done
bin=$(pwd)/bin/stepbox
[ -x "$bin" ] || make -s build
runs=${RUNS:-6}
rounds=${ROUNDS:-2}
work=$(mktemp -d /var/tmp/stepbox-bench-registry.XXXXXX)
regpid=
cleanup() {
	if [ -n "$regpid" ]; then
		kill "$regpid" 2>/dev/null || true
		wait "$regpid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

mkdir "$work/src"
for i in 1 2 3 4; do head -c 25M /dev/urandom >"$work/src/f$i"; done
tar -C "$work/src" -c . | gzip -1 >"$work/layer.tar.gz"
rm -rf "$work/src"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
reg=127.0.0.1:$port
cat >"$work/config.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: $reg
YML
docker-registry serve "$work/config.yml" >"$work/registry.log" 2>&1 &
regpid=$!
for _ in $(seq 100); do
	python3 -c "import urllib.request; urllib.request.urlopen('http://$reg/v2/')" 2>/dev/null && break
	sleep 0.1
done

"$bin" --root "$work/s" import "$work/layer.tar.gz" "$reg/bench/big:1" >/dev/null
# skopeo's source: the same image, blobs as stepbox keeps them, as an OCI
# layout directory.
"$bin" --root "$work/s" save --format oci -o "$work/oci.tar" "$reg/bench/big:1"
mkdir "$work/oci" && tar -C "$work/oci" -xf "$work/oci.tar" && rm "$work/oci.tar"
echo "## Push and pull of a $(du -m "$work/layer.tar.gz" | cut -f1) MiB image, docker-registry on 127.0.0.1 ($(nproc) CPUs, kernel $(uname -r); $runs runs each in $rounds rounds, hyperfine -N, medians)"
echo

hf() { hyperfine -N -w 1 -r "$((runs / rounds))" "$@" >/dev/null; }
for k in $(seq "$rounds"); do
	hf --export-json "$work/push-$k.json" --prepare "rm -rf $work/storage/docker" \
		-n "stepbox push" "$bin --root $work/s push -q --tls-verify=false $reg/bench/big:1" \
		-n "skopeo copy oci: docker://" "skopeo copy -q --dest-tls-verify=false oci:$work/oci:1 docker://$reg/bench/big:1"
done
"$bin" --root "$work/s" push -q --tls-verify=false "$reg/bench/big:1" >/dev/null
for k in $(seq "$rounds"); do
	hf --export-json "$work/pull-$k.json" --prepare "rm -rf $work/p $work/L $work/B" \
		-n "stepbox pull" "$bin --root $work/p pull -q --tls-verify=false $reg/bench/big:1" \
		-n "skopeo copy docker:// oci:" "skopeo copy -q --src-tls-verify=false docker://$reg/bench/big:1 oci:$work/L:big" \
		-n "umoci unpack after skopeo copy" "sh -c 'skopeo copy -q --src-tls-verify=false docker://$reg/bench/big:1 oci:$work/L:big && umoci unpack --image $work/L:big $work/B'"
done
echo "### push"
go run ./bench/summarize -base "skopeo copy oci:" "$work"/push-*.json
echo
echo "### pull"
go run ./bench/summarize -base "skopeo copy docker:// oci:" "$work"/pull-*.json
echo
echo "Goal: stepbox push and pull at most skopeo copy's median (pull also unpacks, which skopeo copy alone does not)."
