#!/usr/bin/env bash
# Run every benchmark on one device and write benchmarks/results/perf-<device>-*.md.
#   bash benchmarks/run_all.sh [cpu|cuda]
set -euo pipefail
device="${1:-cpu}"
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/results"
py="${PYTHON:-python}"
if [ "$device" = "cuda" ]; then
    batches="64 256 1024"
else
    batches="64 256"
fi
"$py" "$here/bench_training.py" --device "$device" --batch $batches --markdown "$out/perf-$device-training.md"
if [ "$device" = "cuda" ]; then  # the same steps without the fused kernels: what they gain
    "$py" "$here/bench_training.py" --device cuda --batch $batches --unfused --markdown "$out/perf-cuda-training-unfused.md"
fi
"$py" "$here/bench_layers.py" --device "$device" --markdown "$out/perf-$device-layers.md"
"$py" "$here/bench_memory.py" --device "$device" --markdown "$out/perf-$device-memory.md"
"$py" "$here/profile_step.py" --device "$device" --markdown "$out/perf-$device-profile.md"
"$py" "$here/launch_costs.py" --device "$device" --markdown "$out/perf-$device-launches.md" \
    --step-markdown "$out/perf-$device-launches-in-step.md"
if [ "$device" = "cpu" ]; then  # the step's matrix products alone: what a ratio target leaves for the rest
    "$py" "$here/gemm_budget.py" --markdown "$out/perf-cpu-gemm-budget.md"
fi
