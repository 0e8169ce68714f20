#!/usr/bin/env bash
# GPFQ against round-to-nearest (RTN) weight quantization at 3, 4 and 5 weight bits on the shared models:
# weights only, activations float, first and last layers at --first-last-bits 8, per tensor and
# per channel (-pcq_w), evaluated on all of imagenet/val1300 or cifar10/test. GPFQ calibrates on the default 128
# images of imagenet/calib1000 or cifar10/calib, drawn with -sh (seeded permutation, seed 0): the first 128 in
# class order would be one or two classes of cifar10/calib. -sh does not change the accuracy over a whole
# evaluation set. Results go to RESULTS (default build/gpfq.jsonl); `quant-sim report` prints the README's table.
# Usage: scripts/gpfq_table.sh [RESULTS]   (QUANTSIM_DATA: the shared data folder, default ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${QUANTSIM_DATA:-$(cd .. && pwd)/shared/data}"
RESULTS="${1:-build/gpfq.jsonl}"
QS=(nice build/quant-sim --no-progress -j 2 -sh --results "$RESULTS")

run_model() {  # name, evaluation set, calibration set
  local model="$DATA/models/$1.pt" val="$DATA/$2" calib="$DATA/$3"
  "${QS[@]}" --model "$model" --data "$val"
  for bits in 3 4 5; do
    for per_channel in "" "-pcq_w"; do
      # shellcheck disable=SC2086  # $per_channel is zero or one flag
      "${QS[@]}" --model "$model" --data "$val" -qw "int$bits" $per_channel
      # shellcheck disable=SC2086
      "${QS[@]}" --model "$model" --data "$val" -qw "int$bits" $per_channel --weight-method gpfq --calib-data "$calib"
    done
  done
}

run_model resnet8_cifar10 cifar10/test cifar10/calib
run_model tiny_darknet imagenet/val1300 imagenet/calib1000
run_model mobilenet_v2_q imagenet/val1300 imagenet/calib1000
build/quant-sim report "$RESULTS" --format markdown
# Seconds GPFQ took per model (the weight phase of each GPFQ run).
/usr/bin/python3 - "$RESULTS" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("config", {}).get("weight_method") == "gpfq":
        print(f'{r["model_name"]} {r["precision"]}{" -pcq_w" if r["config"]["pcq_w"] else ""}: '
              f'GPFQ {r["times"]["quantize_weights_s"]:.1f} s')
PY
