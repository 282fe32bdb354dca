#!/usr/bin/env bash
# GPU readiness check: one script, about 8 minutes on one H100, no network.
#
#   bash benchmarks/gpu_check.sh [OUT_DIR]        (from the repository root)
#
# OUT_DIR (default $OUT if set, else gpu-check-out/) receives gpu_check.md (the report: every
# table below) and the raw numbers: env.json, table.json, sweep.json, compile.json,
# summary.json (stage, exit status, seconds), nvidia-smi.txt, pytest.txt, *.log (stderr).
#
# Stages, each under its own `timeout`, all within GPU_CHECK_BUDGET seconds (default 480)
# after the pre-flight check; a stage that fails is reported and the next one still runs:
#   0. pre-flight: nvidia-smi, torch/CUDA versions; no GPU -> exit 1 at once, with the reason
#   1. pytest -m cuda: the CUDA tests (tests/test_cuda.py)                       ~30 s
#   2. throughput and peak memory, fp32 and bf16 (gpu_bench.py table)           ~1-2 min
#   3. 1, 2, 4, 8 concurrent `dislab train` processes on the GPU (gpu_bench.py sweep)
#                                                                               ~2-3 min
#   4. torch.compile on/off, measured (gpu_bench.py compile; last: optional)    ~2-4 min
#
# Environment: PYTHON (default .venv/bin/python, else python3), GPU_CHECK_BUDGET,
# GPU_CHECK_SWEEP_PRECISION (fp32, bf16 or auto; default fp32).
# Exit status: 0 when every stage passed, 1 otherwise (the report says which).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT_DIR=${1:-${OUT:-gpu-check-out}}
BUDGET=${GPU_CHECK_BUDGET:-480}
SWEEP_PRECISION=${GPU_CHECK_SWEEP_PRECISION:-fp32}

die() {
    printf 'gpu_check: %s\n' "$*" >&2
    exit 1
}

if [[ -z ${PYTHON:-} ]]; then
    if [[ -x .venv/bin/python ]]; then
        PYTHON=.venv/bin/python
    else
        PYTHON=$(command -v python3 || true)
    fi
fi
[[ -n $PYTHON ]] || die "no python found: set PYTHON to an interpreter with torch (CUDA build)"
command -v timeout >/dev/null 2>&1 || die "coreutils 'timeout' not found"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
export MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-33554432}
export MALLOC_TRIM_THRESHOLD_=${MALLOC_TRIM_THRESHOLD_:-1073741824}

mkdir -p "$OUT_DIR"
REPORT=$OUT_DIR/gpu_check.md
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")  # run directories (checkpoints): not kept
trap 'rm -rf "$WORK"' EXIT

# -- 0. pre-flight: fail fast without a GPU ---------------------------------------------------

command -v nvidia-smi >/dev/null 2>&1 \
    || die "no GPU: nvidia-smi not found (no NVIDIA driver here); this check needs a CUDA GPU"
if ! timeout -k 5 30 nvidia-smi >"$OUT_DIR/nvidia-smi.txt" 2>&1; then
    die "no GPU: nvidia-smi failed: $(tail -n 3 "$OUT_DIR/nvidia-smi.txt" | tr '\n' ' ')"
fi
cat "$OUT_DIR/nvidia-smi.txt"
rc=0
timeout -k 5 90 "$PYTHON" benchmarks/gpu_bench.py env --json "$OUT_DIR/env.json" \
    >"$OUT_DIR/env.md" || rc=$?
case $rc in
    0) cat "$OUT_DIR/env.md" ;;
    3) die "no GPU: torch.cuda.is_available() is False for $PYTHON (the reason is above); set PYTHON to an interpreter with a CUDA build of torch" ;;
    124) die "the torch/CUDA check timed out (90 s)" ;;
    *) die "the torch/CUDA check failed (exit $rc): is dislab importable by $PYTHON?" ;;
esac

T0=$SECONDS
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
{
    echo "# GPU check ($(date -u '+%Y-%m-%d %H:%M UTC'), $(hostname), commit $commit)"
    echo
    echo '`bash benchmarks/gpu_check.sh`; raw numbers in the JSON files beside this one.'
    echo
    echo '```'
    cat "$OUT_DIR/nvidia-smi.txt"
    echo '```'
    echo
    cat "$OUT_DIR/env.md"
} >"$REPORT"

STAGES=()
FAILED=()
T=0

# slot CAP RESERVE: T = the seconds the next stage may take: CAP, or less so that RESERVE
# seconds stay for the stages after it (both for the default 480 s budget, scaled to
# GPU_CHECK_BUDGET); 0 when fewer than 30 are left.
slot() {
    local cap=$(($1 * BUDGET / 480)) reserve=$(($2 * BUDGET / 480))
    local left=$((BUDGET - (SECONDS - T0) - reserve))
    T=$((cap < left ? cap : left))
    ((T >= 30)) || T=0
}

# finish NAME RC START: record a stage's outcome (the compile stage is optional: its
# failure is reported, not counted)
finish() {
    local status=$2
    if ((status == 124 || status == 137)); then
        status="$status (timed out)"
    fi
    STAGES+=("$1|$status|$((SECONDS - $3))")
    if (($2 != 0)) && [[ $1 != compile ]]; then
        FAILED+=("$1")
    fi
    echo "gpu_check: $1: exit $status in $((SECONDS - $3)) s" >&2
}

# skipped NAME: a stage the budget left no time for (counted as failed, but compile)
skipped() {
    printf '\n## %s\n\nSkipped: the %s s budget was spent.\n' "$1" "$BUDGET" >>"$REPORT"
    STAGES+=("$1|skipped (budget)|0")
    if [[ $1 != compile ]]; then
        FAILED+=("$1 (skipped)")
    fi
    echo "gpu_check: $1 skipped: the budget was spent" >&2
}

# bench NAME CAP RESERVE SUBCOMMAND ARGS...: gpu_bench.py SUBCOMMAND --json OUT_DIR/NAME.json
# --budget (T - 20); its markdown goes to the report, its stderr to OUT_DIR/NAME.log
bench() {
    local name=$1 cap=$2 reserve=$3 start=$SECONDS rc=0
    shift 3
    slot "$cap" "$reserve"
    if ((T == 0)); then
        skipped "$name"
        return
    fi
    echo "== $name (up to $T s)" >&2
    echo >>"$REPORT"
    timeout -k 15 "$T" "$PYTHON" benchmarks/gpu_bench.py "$@" --json "$OUT_DIR/$name.json" \
        --budget $((T - 20)) 2> >(tee "$OUT_DIR/$name.log" >&2) | tee -a "$REPORT" || rc=$?
    finish "$name" "$rc" "$start"
}

# -- 1. the CUDA tests ------------------------------------------------------------------------

start=$SECONDS
rc=0
slot 150 300
if ((T == 0)); then
    skipped tests
else
    echo "== tests: pytest -m cuda (up to $T s)" >&2
    timeout -k 10 "$T" "$PYTHON" -m pytest -m cuda -q -rs -p no:cacheprovider tests 2>&1 \
        | tee "$OUT_DIR/pytest.txt" || rc=$?
    {
        printf '\n## Tests (`pytest -m cuda`)\n\n```\n'
        tail -n 30 "$OUT_DIR/pytest.txt"
        printf '```\n'
    } >>"$REPORT"
    finish tests "$rc" "$start"
fi

# -- 2-4. measurements ------------------------------------------------------------------------

bench table 120 210 table --work-dir "$WORK/table"
bench sweep 180 60 sweep --precision "$SWEEP_PRECISION" --work-dir "$WORK/sweep"
bench compile 600 0 compile

# -- summary ----------------------------------------------------------------------------------

{
    printf '\n## Stages\n\n| stage | exit | seconds |\n|---|---|---|\n'
    for s in "${STAGES[@]}"; do
        IFS='|' read -r name status secs <<<"$s"
        echo "| $name | $status | $secs |"
    done
    echo
    echo "Total $((SECONDS - T0)) s after the pre-flight check (budget $BUDGET s)."
} >>"$REPORT"
{
    printf '{"commit": "%s", "budget_s": %s, "seconds": %s, "stages": [' \
        "$commit" "$BUDGET" "$((SECONDS - T0))"
    sep=""
    for s in "${STAGES[@]}"; do
        IFS='|' read -r name status secs <<<"$s"
        printf '%s{"stage": "%s", "exit": "%s", "seconds": %s}' "$sep" "$name" "$status" "$secs"
        sep=", "
    done
    printf ']}\n'
} >"$OUT_DIR/summary.json"

echo "gpu_check: report in $REPORT ($((SECONDS - T0)) s after the pre-flight check)" >&2
if ((${#FAILED[@]})); then
    die "failed or incomplete: ${FAILED[*]}"
fi
