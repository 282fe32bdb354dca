#!/usr/bin/env bash
# `dislab train` typed in a plain shell against the same command under `make`'s environment
# (MALLOC_* and the thread variables exported), alternating, twice each; prints the median
# images/s of each run's train_log.csv windows after the first. The in-process settings of
# dislab._runtime should make the two the same (issue target: within 5%).
#   bash benchmarks/bench_entry.sh [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-400}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
run() {  # $1: label, rest: env assignments
  local label=$1; shift
  local dir="$out/$label-$RANDOM"
  env -i PATH="$PATH" HOME="$HOME" "$@" .venv/bin/dislab train --model beta_vae \
    --dataset dsprites_full --source procedural --steps "$steps" --log-every 50 \
    --eval-samples 64 --threads 1 --quiet --out "$dir" > /dev/null
  .venv/bin/python - "$dir" "$label" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1] + "/train_log.csv")))[1:]
print(f"{sys.argv[2]:10s} {statistics.median(float(r['images_per_second']) for r in rows):7.1f} img/s")
PY
}
echo "lscpu: $(lscpu | sed -n 's/^Model name: *//p'); load $(cut -d' ' -f1 /proc/loadavg)"
for _ in 1 2; do
  run shell OMP_NUM_THREADS=1
  run make OMP_NUM_THREADS=1 MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824
done
echo "load after $(cut -d' ' -f1 /proc/loadavg)"
