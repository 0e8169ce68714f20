#!/usr/bin/env bash
# Runs the README's faithfulness grid on the shared data: for every shared model, statistics collected on its
# calibration set, then seven weight/activation configurations evaluated in both --act-sites modes. Results go to
# RESULTS (default build/faithfulness.jsonl); `quant-sim report` turns them into the README's table.
# Usage: scripts/faithfulness_table.sh [RESULTS]   (QUANTSIM_DATA: the shared data folder, default ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${QUANTSIM_DATA:-$(cd .. && pwd)/shared/data}"
RESULTS="${1:-build/faithfulness.jsonl}"
STATS="$(mktemp -d)/statistics"
QS=(build/quant-sim --no-progress -j 2 --results "$RESULTS" --stats-dir "$STATS")

CONFIGS=(
  "--qtype int8 -qw int8 -pcq_w"
  "--qtype int8 -qw int4 -pcq_w"
  "--qtype int4 -qw int8 -pcq_w -pcq_a -c no"
  "--qtype int4 -qw int8 -pcq_w -pcq_a -c laplace"
  "--qtype int4 -qw int4 -pcq_w -pcq_a -c no"
  "--qtype int4 -qw int4 -pcq_w -pcq_a -c laplace -baa -baw -bcw"
  "--qtype int4 -qw int4 -pcq_w -pcq_a -c gaus -baa -baw -bcw"
)

run_model() {  # name, evaluation set, calibration set
  local model="$DATA/models/$1.pt" val="$DATA/$2" calib="$DATA/$3"
  "${QS[@]}" --model "$model" --data "$val"
  for sites in outputs inputs; do
    "${QS[@]}" --model "$model" --data "$val" --calib-data "$calib" -sm collect --act-sites "$sites"
    for config in "${CONFIGS[@]}"; do
      # shellcheck disable=SC2086  # each configuration is a list of flags
      "${QS[@]}" --model "$model" --data "$val" -sm use --act-sites "$sites" $config
    done
  done
}

run_model resnet8_cifar10 cifar10/test cifar10/calib
run_model tiny_darknet imagenet/val1300 imagenet/calib1000
run_model mobilenet_v2_q imagenet/val1300 imagenet/calib1000
build/quant-sim report "$RESULTS" --format markdown
