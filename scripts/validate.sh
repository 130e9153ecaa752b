#!/bin/sh
# make validate: the OCI runtime-tools validation suite against stepbox (as
# runc), and against runc and crun in the same run for comparison.
#
# The suite is not part of this repository: it is fetched through the Go
# module proxy at the version below into a temporary directory, built there
# (-mod=mod, as its vendor tree is not complete), run, and removed. Every
# program is run from that directory (they read ./rootfs-amd64.tar.gz and
# ./runtimetest), one at a time, as root, with RUNTIME pointing at a small
# wrapper that gives each runtime a temporary --root, so no state of the
# host's runc, crun or stepbox is touched. Debian's crun refuses hybrid
# cgroups: its wrapper runs it in a mount namespace with the unified
# hierarchy unmounted (see ../shared/notes/host-facts.md).
#
# Output: per program, the failing assertions of each runtime; then a
# summary table. VALIDATE_ONLY="a b" limits the programs; VALIDATE_RUNTIMES
# picks runtimes (default: stepbox runc crun).
set -eu
MODULE=github.com/opencontainers/runtime-tools
VERSION=v0.9.1-0.20251205004911-5e639034dcdc
STEPBOX=${STEPBOX:-$(pwd)/bin/runc}
CRUN_HYBRID=$(pwd)/scripts/crun-hybrid
RUNTIMES=${VALIDATE_RUNTIMES:-stepbox runc crun}

[ "$(id -u)" = 0 ] || { echo "validate: needs root" >&2; exit 1; }
work=$(mktemp -d /tmp/stepbox-validate.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM

dir=$(go mod download -json "$MODULE@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$dir" ] || { echo "validate: could not fetch $MODULE@$VERSION" >&2; exit 1; }
cp -r "$dir" "$work/suite"
chmod -R u+w "$work/suite"
cd "$work/suite"
echo "validate: building the suite ($MODULE@$VERSION) in $work"
CGO_ENABLED=0 go build -mod=mod -tags 'netgo osusergo' -o runtimetest ./cmd/runtimetest
programs=
for f in validation/*/*.go; do
	case $f in */util/*) continue ;; esac
	name=$(basename "$(dirname "$f")")
	if [ -n "${VALIDATE_ONLY:-}" ]; then
		case " $VALIDATE_ONLY " in *" $name "*) ;; *) continue ;; esac
	fi
	go build -mod=mod -o "${f%.go}.t" "$f"
	programs="$programs $name"
done

# One wrapper per runtime, each with a state directory of its own.
for rt in $RUNTIMES; do
	mkdir -p "$work/state-$rt"
	case $rt in
	stepbox) printf '#!/bin/sh\nexec %s --root %s "$@"\n' "$STEPBOX" "$work/state-$rt" ;;
	runc) printf '#!/bin/sh\nexec runc --root %s "$@"\n' "$work/state-$rt" ;;
	crun) printf '#!/bin/sh\nexec %s %s "$@"\n' "$CRUN_HYBRID" "$work/state-$rt" ;;
	esac >"$work/$rt"
	chmod +x "$work/$rt"
done

for p in $programs; do
	for rt in $RUNTIMES; do
		out="$work/out-$rt-$p"
		status=0
		RUNTIME="$work/$rt" timeout 300 "./validation/$p/$p.t" >"$out" 2>&1 || status=$?
		pass=$(grep -c '^ok ' "$out" || true)
		fail=$(grep -c '^not ok ' "$out" || true)
		# A program without a TAP plan either passed by exiting 0 (the
		# *_fail programs check only that the runtime refuses) or died
		# (util.Fatal exits 1): one failure then, with its last line.
		if ! grep -q '^1\.\.[0-9]' "$out"; then
			if [ "$status" = 0 ]; then
				pass=$((pass + 1))
			else
				fail=$((fail + 1))
				echo "  $rt $p: exited $status without a TAP plan: $(grep -v '^[[:space:]]*$' "$out" | tail -1)"
			fi
		fi
		echo "$p $rt $pass $fail" >>"$work/results"
		grep '^not ok ' "$out" | sed "s/^/  $rt $p: /" || true
	done
done

echo
printf '%-36s' program; for rt in $RUNTIMES; do printf ' %14s' "$rt ok/fail"; done; echo
for p in $programs; do
	printf '%-36s' "$p"
	for rt in $RUNTIMES; do
		set -- $(awk -v p="$p" -v r="$rt" '$1 == p && $2 == r { print $3, $4 }' "$work/results")
		printf ' %14s' "$1/$2"
	done
	echo
done
printf '%-36s' TOTAL
for rt in $RUNTIMES; do
	printf ' %14s' "$(awk -v r="$rt" '$2 == r { o += $3; f += $4 } END { print o "/" f }' "$work/results")"
done
echo
if [ -n "${VALIDATE_KEEP:-}" ]; then cp -r "$work" "$VALIDATE_KEEP"; fi
