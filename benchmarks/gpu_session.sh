#!/usr/bin/env bash
# Everything that needs a GPU, in one command, for a short lease on a lent machine:
#
#   bash benchmarks/gpu_session.sh [suite] [bench] [train] [quick]
#
#   suite  the whole test suite on CuPy (python -m pytest --device cuda)
#   bench  benchmarks/run_all.sh cuda: the GPU tables in benchmarks/results/perf-cuda-*.md
#   train  python -m minigan train --preset mnist-dcgan --device cuda, timed
#   hostprof  benchmarks/host_profile.py --device cuda: where the host's time goes in a step
#   graph  benchmarks/graph_capture.py: what CUDA graph capture of the whole step would pay
#   quick  one pass of each benchmark script with few repeats (finds bugs, times nothing)
#
# With no argument it runs suite, bench, hostprof, graph and train (the last checkpoint comes
# back as gpu-run-last.npz, to evaluate on any machine). Logs and results go to $OUT (or
# /tmp/minigan-gpu): one log per phase and results.tar.gz with the results files.
# MNIST is read from ../shared/data/mnist, as everywhere else in the project.
set -uo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
out="${OUT:-/tmp/minigan-gpu}"
mkdir -p "$out"
py="${PYTHON:-python3}"
phases="${*:-suite bench hostprof graph train}"
export PYTHONUNBUFFERED=1

{
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv
    "$py" -c "import sys, numpy, cupy, torch; print(sys.version.split()[0], 'numpy', numpy.__version__, 'cupy', cupy.__version__, 'torch', torch.__version__, 'cuda', torch.cuda.is_available())"
} 2>&1 | tee "$out/machine.txt"

for phase in $phases; do
    start=$(date +%s)
    case "$phase" in
    suite)
        # Workers share the one GPU (each its own CUDA context); a hung test is stopped, not waited for.
        timeout "${SUITE_TIMEOUT:-300}" "$py" -m pytest --device cuda -q -n "${SUITE_WORKERS:-8}" \
            --timeout 120 --tb=short -p no:cacheprovider 2>&1 >"$out/suite.log"
        echo "suite: exit $? in $(( $(date +%s) - start )) s"; tail -n 60 "$out/suite.log" ;;
    bench)
        PYTHON="$py" timeout "${BENCH_TIMEOUT:-300}" bash benchmarks/run_all.sh cuda >"$out/bench.log" 2>&1
        echo "bench: exit $? in $(( $(date +%s) - start )) s"; cat "$out/bench.log" ;;
    hostprof)
        timeout 120 "$py" benchmarks/host_profile.py --device cuda --batch 256 --steps 20 --top 40 >"$out/hostprof.log" 2>&1
        echo "hostprof: exit $? in $(( $(date +%s) - start )) s"; head -n 30 "$out/hostprof.log" ;;
    graph)
        timeout 150 "$py" benchmarks/graph_capture.py >"$out/graph.log" 2>&1
        echo "graph: exit $? in $(( $(date +%s) - start )) s"; tail -n 30 "$out/graph.log" ;;
    quick)
        {
            timeout 100 "$py" benchmarks/bench_training.py --device cuda --batch 64 256 1024 --repeats 3
            timeout 45 "$py" benchmarks/bench_layers.py --device cuda --repeats 3
            timeout 45 "$py" benchmarks/bench_memory.py --device cuda --batch 64
            timeout 45 "$py" benchmarks/profile_step.py --device cuda --steps 3
        } >"$out/quick.log" 2>&1
        echo "quick: exit $? in $(( $(date +%s) - start )) s"; tail -n 80 "$out/quick.log" ;;
    train)
        rm -rf /tmp/minigan-gpu-run
        timeout "${TRAIN_TIMEOUT:-240}" /usr/bin/time -v "$py" -m minigan train --preset mnist-dcgan --device cuda \
            --data-dir ../shared/data/mnist --no-progress --out /tmp/minigan-gpu-run ${TRAIN_ARGS:-} >"$out/train.log" 2>&1
        echo "train: exit $? in $(( $(date +%s) - start )) s"; grep -v "it/s\]$" "$out/train.log" | tail -n 40
        last=$(ls /tmp/minigan-gpu-run/checkpoints/*.npz 2>/dev/null | tail -n 1)
        [ -n "$last" ] && cp "$last" "$out/gpu-run-last.npz" ;;
    *)
        echo "unknown phase $phase (suite, bench, hostprof, graph, train or quick)"; exit 2 ;;
    esac
done
tar czf "$out/results.tar.gz" benchmarks/results/perf-cuda-*.md /tmp/minigan-gpu-run/metrics.jsonl 2>/dev/null
exit 0
