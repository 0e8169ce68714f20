#!/usr/bin/env bash
# The GPU machine's one command (README, section "GPU machine"): builds quant-sim there with only the carried
# dependency folder (scripts/gpu/prepare.sh) and the machine's own LibTorch, then checks and measures, and prints ONE
# markdown table, also written to OUTDIR/gpu_summary.md (and the tail of every step's log to OUTDIR/check_logs.txt).
#
#   scripts/gpu/check.sh OUTDIR [--device cuda|cpu] [--deps DIR] [--build DIR] [--work DIR]
#
# Steps, stopping at the first failure with one line "check: FAILED at <step>: <why>":
#   1. configure + build quant-sim, test_quant and (where nvcc is) test_cuda_kernels and bench_fake_quant_cuda against
#      the LibTorch of the python3 that has torch (torch.utils.cmake_prefix_path), QUANTSIM_DEPS_DIR=DIR, CUDA arch 90
#   2. kernel tests: test_quant's fake-quant tests (CPU kernels and ops); test_cuda_kernels (CUDA against the CPU
#      kernels bit for bit, random cases and special values), which must run, not skip, with --device cuda
#   3. fake-quant bandwidth against a device-to-device copy (bench_fake_quant_cuda, CUDA events)
#   4. for each carried model: FP32, then W4A4 (-pcq_w -pcq_a -c laplace -baa -baw -bcw: -sm collect, then -sm use)
#      on the device under test and on the CPU; equal top-1 (near-ties aside) and logits within tolerance for FP32,
#      argmax agreement for W4A4 (rounding to 4 bits turns float noise into whole steps). The W4A4 use pass on CUDA
#      runs with QUANTSIM_CUDA_SYNC_DEBUG=error (LibTorch raises on any synchronising call) when quant-sim reads it
#   5. images/s of resnet50 (random weights, tools/export_model.py) FP32 and the W4A4 use pass, batch 256, 512 random
#      224x224 images; projected time for the 50,000 ImageNet val images = 50000 / images_per_s
# --device cpu is the dry run on a machine without a GPU: the same steps with the device under test = the CPU (CUDA
# kernel tests compiled where nvcc is, and skipped; bandwidth skipped; resnet50 at batch 16 on 32 images).
#
# Images: evaluated from a preprocessed cache (the GPU machine has no OpenCV for C++) built with
# tools/build_cache.py; QUANTSIM_CHECK_DATA=folder reads the image folders instead (needs OpenCV: only here), auto
# (the default) takes the cache when tools/build_cache.py exists. Tolerances: FP32_REL_TOL (default 1e-2 of the largest
# |logit|: LibTorch lets cuDNN convolutions use TF32, about 1e-3 relative per layer), W4A4_MIN_AGREEMENT (0.95).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
started=$SECONDS

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
out=""
device=cuda
deps=gpu_kit
build=build-gpu
work=/tmp/quantsim-gpu-check
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device="$2"; shift 2 ;;
    --deps) deps="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "check: unknown option '$1' (see --help)"; exit 2 ;;
    *) [ -z "$out" ] || { echo "check: one OUTDIR only ('$out', '$1')"; exit 2; }; out="$1"; shift ;;
  esac
done
[ -n "$out" ] || { echo "check: OUTDIR is missing (see --help)"; exit 2; }
case "$device" in cuda|cpu) ;; *) echo "check: --device '$device' is not cuda or cpu"; exit 2 ;; esac
mkdir -p "$out"
out=$(cd "$out" && pwd)
if ! deps=$(cd "$deps" 2>/dev/null && pwd); then
  echo "check: no folder '$deps': make it with scripts/gpu/prepare.sh where the dev packages are, and carry it"
  exit 2
fi
rm -rf "$work"
mkdir -p "$work/logs"
fp32_rel_tol="${FP32_REL_TOL:-1e-2}"
w4a4_min_agreement="${W4A4_MIN_AGREEMENT:-0.95}"
jobs=$(nproc)

# --- reporting -------------------------------------------------------------------------------------------------------
rows=()
header=()
row() { rows+=("| $1 | $2 | $3 |"); }
step=""
write_summary() {  # $1: the closing line
  {
    echo "## quant-sim GPU check ($(date -u +%Y-%m-%dT%H:%MZ), --device $device)"
    echo
    for h in "${header[@]}"; do echo "- $h"; done
    echo
    echo "| check | result | figures |"
    echo "|---|---|---|"
    for r in "${rows[@]}"; do echo "$r"; done
    echo
    echo "$1 Total $((SECONDS - started)) s."
  } >"$out/gpu_summary.md"
}
bundle_logs() {
  for log in "$work"/logs/*.log; do
    [ -e "$log" ] || continue
    echo "===== $(basename "$log") (last 60 lines)"
    tail -n 60 "$log"
  done >"$out/check_logs.txt" 2>/dev/null || true
}
trap bundle_logs EXIT
die() {
  echo "check: FAILED at $step: $*"
  row "$step" "**FAILED**" "$*"
  write_summary "Stopped at the first failure."
  cat "$out/gpu_summary.md"
  exit 1
}
# run LOGNAME CMD...: output to $work/logs/LOGNAME.log; on failure, stop with that log's last line.
run() {
  local name="$1"
  shift
  if ! "$@" >"$work/logs/$name.log" 2>&1; then
    die "$(grep -v '^\s*$' "$work/logs/$name.log" | tail -n 1 | cut -c1-300) (log: $name.log in check_logs.txt)"
  fi
}

# --- 1. environment, configure, build --------------------------------------------------------------------------------
step="environment"
py=""
for candidate in python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import torch, numpy' 2>/dev/null; then
    py="$candidate"
    break
  fi
done
[ -n "$py" ] || die "no python3 with torch and numpy here"
torch_version=$("$py" -c 'import torch; print(torch.__version__)')
torch_cuda=$("$py" -c 'import torch; print(torch.cuda.is_available())')
if [ "$device" = cuda ] && [ "$torch_cuda" != True ]; then
  die "python3's torch $torch_version sees no GPU (torch.cuda.is_available() is False)"
fi
gpu_name="none"
if command -v nvidia-smi >/dev/null; then
  gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1 || true)
fi
data_mode="${QUANTSIM_CHECK_DATA:-auto}"
if [ "$data_mode" = auto ]; then
  data_mode=folder
  [ -f tools/build_cache.py ] && data_mode=cache
fi
opencv=OFF
[ "$data_mode" = folder ] && opencv=ON
# Folder mode needs OpenCV for C++; where there is none (the GPU machine) the steps that read images are left out,
# saying so, and the rest still runs.
evaluate=yes
if [ "$data_mode" = folder ] &&
  ! find /usr /usr/local /opt -maxdepth 6 -name OpenCVConfig.cmake 2>/dev/null | grep -q .; then
  opencv=OFF
  evaluate=no
fi
header+=("machine: $(nproc) cores, GPU: ${gpu_name:-none}; python3 torch $torch_version (CUDA available: $torch_cuda)")
header+=("images from: $data_mode (QUANTSIM_CHECK_DATA), kit: $(basename "$deps")")

step="configure"
torch_prefix=$("$py" -c 'import torch; print(torch.utils.cmake_prefix_path)')
prefix_args=()
if [ -f "$torch_prefix/Torch/TorchConfig.cmake" ]; then
  prefix_args=(-DCMAKE_PREFIX_PATH="$torch_prefix")
else
  torch_prefix="(the system's: python3's torch has no TorchConfig.cmake)"
fi
# A LibTorch whose headers demand C++20 says so with a 202002L check in them.
torch_include=$("$py" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "include"))')
cxx_std=17
if grep -qs '202002L' "$torch_include/ATen/ATen.h" "$torch_include/torch/all.h" "$torch_include/c10/util/C++17.h"; then
  cxx_std=20
fi
nvcc=""
command -v nvcc >/dev/null && nvcc=$(command -v nvcc)
[ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
cuda_args=(-DQUANTSIM_WITH_CUDA=OFF)
[ -n "$nvcc" ] && cuda_args=(-DQUANTSIM_WITH_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES=90)
[ "$device" = cuda ] && [ -z "$nvcc" ] && die "no nvcc (PATH or /usr/local/cuda/bin)"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}"
run configure cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DQUANTSIM_DEPS_DIR="$deps" \
  -DQUANTSIM_WITH_OPENCV="$opencv" -DQUANTSIM_BUILD_TESTS=ON -DQUANTSIM_BUILD_BENCH=ON -DCMAKE_CXX_STANDARD="$cxx_std" \
  "${prefix_args[@]}" "${cuda_args[@]}" "${launcher[@]}"

step="build"
targets=(quant-sim test_quant)
if [ -n "$nvcc" ]; then targets+=(test_cuda_kernels bench_fake_quant_cuda); fi
build_start=$SECONDS
run build ninja -C "$build" -j"$jobs" "${targets[@]}"
torch_cuda_build=no
ninja -C "$build" -t commands quant-sim | grep -q 'QUANTSIM_TORCH_CUDA' && torch_cuda_build=yes
if [ "$device" = cuda ] && [ "$torch_cuda_build" != yes ]; then
  die "quant-sim was built without QUANTSIM_TORCH_CUDA (the LibTorch found has no torch_cuda target)"
fi
arch="none (no nvcc)"
[ -n "$nvcc" ] && arch="90 (sm_90 + PTX)"
row "build" "ok" "$((SECONDS - build_start)) s for ${targets[*]}; C++$cxx_std; CUDA arch $arch;\
 LibTorch CUDA ops: $torch_cuda_build; LibTorch from $torch_prefix"
qs="$repo/$build/quant-sim"

# --- 2. kernel tests -------------------------------------------------------------------------------------------------
step="CPU fake-quant tests"
run test_quant "$build/tests/test_quant" --gtest_filter='FakeQuant*' --gtest_brief=1
passed=$(grep -o '\[  PASSED  \] [0-9]*' "$work/logs/test_quant.log" | grep -o '[0-9]*$' || echo 0)
skipped=$(grep -o '\[  SKIPPED \] [0-9]*' "$work/logs/test_quant.log" | grep -o '[0-9]*$' || echo 0)
# Their CUDA cases (FakeQuantOpCuda: the ops on CUDA tensors against CPU ones) must run where a GPU is.
[ "$device" = cpu ] || [ "$skipped" = 0 ] || die "$skipped fake-quant op tests skipped although a GPU is present"
row "$step (test_quant FakeQuant*: CPU kernels, ops, ops on CUDA vs CPU)" "passed" "$passed tests, $skipped skipped"

step="CUDA kernel tests"
if [ -x "$build/tests/test_cuda_kernels" ]; then
  run test_cuda_kernels "$build/tests/test_cuda_kernels"
  passed=$(grep -o '\[  PASSED  \] [0-9]*' "$work/logs/test_cuda_kernels.log" | grep -o '[0-9]*$' || echo 0)
  skipped=$(grep -o '\[  SKIPPED \] [0-9]*' "$work/logs/test_cuda_kernels.log" | grep -o '[0-9]*$' || echo 0)
  if [ "$device" = cuda ]; then
    [ "$skipped" = 0 ] || die "test_cuda_kernels skipped $skipped tests although a GPU is present"
    row "$step (CUDA vs CPU bit for bit)" "passed" "$passed tests, random cases and special values"
  else
    row "$step (CUDA vs CPU bit for bit)" "compiled, skipped" "no GPU here ($skipped skipped)"
  fi
else
  row "$step" "not built" "no nvcc here"
fi

# --- 3. bandwidth ----------------------------------------------------------------------------------------------------
step="fake-quant bandwidth"
if [ "$device" = cuda ]; then
  run bandwidth "$build/bench/bench_fake_quant_cuda"
  line=$(grep '^bandwidth_gbs' "$work/logs/bandwidth.log") || die "bench_fake_quant_cuda printed no bandwidth_gbs line"
  copy=$(echo "$line" | sed 's/.*copy=\([0-9.]*\).*/\1/')
  per_tensor=$(echo "$line" | sed 's/.*per_tensor=\([0-9.]*\).*/\1/')
  per_channel=$(echo "$line" | sed 's/.*per_channel=\([0-9.]*\).*/\1/')
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
  row "$step (268 MB, GB/s read+write)" "measured" "copy $copy; per-tensor $per_tensor\
 ($(ratio "$per_tensor" "$copy")x copy); per-channel $per_channel ($(ratio "$per_channel" "$copy")x copy)"
else
  row "$step" "skipped" "--device cpu: no GPU to measure"
fi

if [ "$evaluate" = no ]; then
  row "steps 4-5 (models, resnet50 images/s)" "**not run**" "no tools/build_cache.py in this tree and no OpenCV\
 here to read image folders"
  write_summary "Partial: kernel tests and bandwidth only."
  cat "$out/gpu_summary.md"
  echo "check: PARTIAL: models not evaluated (no image cache tool, no OpenCV)"
  exit 1
fi

# --- 4. device under test against the CPU on the carried models ------------------------------------------------------
# model | images | class-order file, all under the kit's data/
models=("resnet8_cifar10|cifar10/test|cifar10/classes.txt"
  "tiny_darknet|imagenet/val1300|imagenet/synsets.txt"
  "mobilenet_v2_q|imagenet/val1300|imagenet/synsets.txt")
w4a4=(--qtype int4 -qw int4 -pcq_w -pcq_a -c laplace -baa -baw -bcw)
sync_hook=no
grep -rqs 'QUANTSIM_CUDA_SYNC_DEBUG' src && sync_hook=yes
sync_result="not applicable (--device cpu)"
if [ "$device" = cuda ]; then
  sync_result="passed"
  [ "$sync_hook" = yes ] || sync_result="not checked: this quant-sim does not read QUANTSIM_CUDA_SYNC_DEBUG"
fi
mkdir -p "$work/cache" "$work/res" "$work/logits"
field() { "$py" scripts/gpu/compare_runs.py field "$1" "$2"; }
# eval_data NAME MODEL DATA_DIR: sets data to the --data argument for that model (a cache built with its
# preprocessing, or the folder itself).
eval_data() {
  data="$3"
  if [ "$data_mode" = cache ]; then
    run "cache_$1" "$py" tools/build_cache.py --data "$3" --model "$2" --out "$work/cache/$1.cache"
    data="$work/cache/$1.cache"
  fi
}
for entry in "${models[@]}"; do
  IFS='|' read -r name images classes <<<"$entry"
  model="$deps/data/models/$name.pt"
  step="$name: image cache"
  eval_data "$name" "$model" "$deps/data/$images"
  common=(--model "$model" --data "$data" --synsets "$deps/data/$classes" -b 100 -j "$jobs" --no-progress)
  # Each side: "dut" is the device under test, "ref" the CPU (in the dry run both are the CPU).
  for side in ref dut; do
    dev=cpu
    [ "$side" = dut ] && dev="$device"
    step="$name FP32 on $dev ($side)"
    run "$name.fp32.$side" "$qs" "${common[@]}" --device "$dev" --results "$work/res/$name.fp32.$side.jsonl" \
      --save-logits "$work/logits/$name.fp32.$side.npy"
    step="$name W4A4 collect on $dev ($side)"
    run "$name.collect.$side" "$qs" "${common[@]}" "${w4a4[@]}" --device "$dev" -sm collect \
      --stats-dir "$work/stats.$name.$side" --results "$work/res/$name.collect.$side.jsonl"
    step="$name W4A4 use on $dev ($side)"
    use=("$qs" "${common[@]}" "${w4a4[@]}" --device "$dev" -sm use --stats-dir "$work/stats.$name.$side"
      --results "$work/res/$name.use.$side.jsonl" --save-logits "$work/logits/$name.use.$side.npy")
    if [ "$dev" = cuda ] && [ "$sync_hook" = yes ]; then
      if ! QUANTSIM_CUDA_SYNC_DEBUG=error "${use[@]}" >"$work/logs/$name.use.sync_debug.log" 2>&1; then
        sync_result="**FAILED** on $name: $(grep -i -m 1 'synchroniz\|error' "$work/logs/$name.use.sync_debug.log" |
          cut -c1-200)"
        run "$name.use.$side" "${use[@]}"  # the comparison goes on without the hook
      fi
      [ -f "$work/res/$name.use.$side.jsonl" ] || run "$name.use.$side" "${use[@]}"
    else
      run "$name.use.$side" "${use[@]}"
    fi
  done
  step="$name FP32 $device vs cpu"
  run "$name.fp32.compare" "$py" scripts/gpu/compare_runs.py logits "$work/logits/$name.fp32.ref.npy" \
    "$work/logits/$name.fp32.dut.npy" --rel-tol "$fp32_rel_tol"
  res="$work/res/$name"
  row "$step" "ok" "top-1 $(field "$res.fp32.dut.jsonl" top1) vs $(field "$res.fp32.ref.jsonl" top1)\
 on $(field "$res.fp32.ref.jsonl" images) images; $(cut -c5- "$work/logs/$name.fp32.compare.log")"
  step="$name W4A4 (collect, use) $device vs cpu"
  run "$name.use.compare" "$py" scripts/gpu/compare_runs.py logits "$work/logits/$name.use.ref.npy" \
    "$work/logits/$name.use.dut.npy" --rel-tol 1e30 --min-agreement "$w4a4_min_agreement"
  run "$name.stats.compare" "$py" scripts/gpu/compare_runs.py stats "$work/stats.$name.ref" "$work/stats.$name.dut"
  row "$step" "ok" "top-1 $(field "$res.use.dut.jsonl" top1) vs $(field "$res.use.ref.jsonl" top1);\
 $(cut -c5- "$work/logs/$name.use.compare.log" | sed 's/; needs.*//');\
 statistics: $(cat "$work/logs/$name.stats.compare.log")"
done
row "W4A4 use pass under QUANTSIM_CUDA_SYNC_DEBUG=error" "$sync_result" ""

# --- 5. resnet50 images/s --------------------------------------------------------------------------------------------
step="resnet50 export"
if [ "$device" = cuda ]; then batch=256 count=512; else batch=16 count=32; fi
run export "$py" tools/export_model.py --arch resnet50 --out "$work/resnet50.pt"
step="resnet50 random images"
run random_images "$py" - "$work/random224" "$count" "$deps/data/imagenet/synsets.txt" <<'PY'
import os, sys
import numpy as np
from PIL import Image
root, count, synsets = sys.argv[1], int(sys.argv[2]), open(sys.argv[3]).read().split()
rng = np.random.default_rng(0)
for i in range(count):
    folder = os.path.join(root, synsets[i % 8])
    os.makedirs(folder, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)).save(os.path.join(folder, f"{i:04d}.png"))
PY
step="resnet50 image cache"
eval_data resnet50 "$work/resnet50.pt" "$work/random224"
common=(--model "$work/resnet50.pt" --data "$data" --synsets "$deps/data/imagenet/synsets.txt" -b "$batch" -j "$jobs"
  --no-progress --device "$device")
step="resnet50 FP32 speed"
run r50.fp32 "$qs" "${common[@]}" --results "$work/res/r50.fp32.jsonl"
step="resnet50 W4A4 collect"
run r50.collect "$qs" "${common[@]}" "${w4a4[@]}" -sm collect --stats-dir "$work/stats.r50" \
  --results "$work/res/r50.collect.jsonl"
step="resnet50 W4A4 use speed"
run r50.use "$qs" "${common[@]}" "${w4a4[@]}" -sm use --stats-dir "$work/stats.r50" --results "$work/res/r50.use.jsonl"
speed_row() {  # label, results file
  local ips forward_s images
  ips=$(field "$2" images_per_second)
  images=$(field "$2" images)
  forward_s=$("$py" -c 'import json, sys
print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["times"]["forward_s"])' "$2")
  row "$1" "measured" "$(awk -v i="$ips" -v n="$images" -v f="$forward_s" 'BEGIN {
    printf "%.1f images/s over %d images (forward alone %.1f images/s); 50,000 images: %.0f s projected",
      i, n, (f > 0 ? n / f : 0), (i > 0 ? 50000 / i : 0) }')"
}
speed_row "resnet50 FP32, batch $batch, $device" "$work/res/r50.fp32.jsonl"
speed_row "resnet50 W4A4 use pass, batch $batch, $device" "$work/res/r50.use.jsonl"

step="done"
write_summary "All checks passed."
cat "$out/gpu_summary.md"
