#!/usr/bin/env bash
# bench/images.sh: load and save of a large image (about 200 MiB in 30,000
# files, from the host's /usr/share) against skopeo and umoci, timed by
# hyperfine in one run so the numbers compare (the build machines are
# shared and noisy: quote the ratios).
#
#   1. stepbox load -i A.tar (read, verify, store the blob, unpack the layer)
#      vs  skopeo copy docker-archive:A.tar oci:L  +  umoci unpack (the same
#      work done by two tools), and skopeo copy alone (no unpacking)
#   2. stepbox save -o B.tar IMAGE  vs  skopeo copy docker-archive:A.tar
#      docker-archive:B.tar
#
# Needs root (unpacking keeps owners and device nodes), hyperfine, skopeo,
# umoci. Everything is made under one temporary directory, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=$(realpath "${STEPBOX:-bin/stepbox}")
[ -x "$bin" ] || make -s build
runs=${RUNS:-3}
out=$(mktemp -d /var/tmp/stepbox-bench-images.XXXXXX)
trap 'rm -rf "$out"' EXIT INT TERM
cd "$out"

tar -C / -cf big.tar usr/share/doc usr/share/man usr/share/perl usr/share/i18n 2>/dev/null || true
echo "== image: $(du -m big.tar | cut -f1) MiB, $(tar -tf big.tar | wc -l) entries" >&2
"$bin" --root src import big.tar bench/big:1 >/dev/null
"$bin" --root src save -o A.tar bench/big:1

hf() { hyperfine -N --runs "$runs" --style basic "$@" >&2; }
hf --export-json load.json \
	--prepare "rm -rf $out/r $out/L $out/B" \
	-n "stepbox load" "$bin --root $out/r load -q -i $out/A.tar" \
	-n "skopeo copy to oci: + umoci unpack" "sh -c 'skopeo copy -q docker-archive:$out/A.tar oci:$out/L:big && umoci unpack --image $out/L:big $out/B'" \
	-n "skopeo copy to oci: alone" "skopeo copy -q docker-archive:$out/A.tar oci:$out/L:big"
hf --export-json save.json \
	--prepare "rm -f $out/S.tar" \
	-n "stepbox save" "$bin --root $out/src save -o $out/S.tar bench/big:1" \
	-n "skopeo copy docker-archive to docker-archive" "skopeo copy -q docker-archive:$out/A.tar docker-archive:$out/S.tar:bench/big:1"

# Medians and the ratio of each to the first of its group.
python3 - load.json save.json <<'PY'
import json, statistics, sys
for f in sys.argv[1:]:
    rs = json.load(open(f))["results"]
    base = statistics.median(rs[0]["times"])
    print(f"\n| {f[:-5]} | median | ratio to stepbox |\n|---|---|---|")
    for r in rs:
        m = statistics.median(r["times"])
        print(f"| {r['command']} | {m:.2f} s | {m / base:.2f} |")
PY
