#!/usr/bin/env bash
# bench/run.sh: `make bench`. Every benchmark of the project, one after the
# other; each prints a markdown table of medians and ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "make bench needs root (it starts containers)" >&2; exit 1; }
make -s build
./bench/start.sh
./bench/exec.sh
./bench/tour.sh
./bench/inspect.sh
./bench/monitor.sh
./bench/overlay.sh
./bench/images.sh
./bench/registry.sh
./bench/network.sh
./bench/oci.sh
./bench/build.sh
