#!/usr/bin/env bash
# README command 1: installs what is missing, builds, and runs quant-sim's main job on the built-in default:
# a small ResNet trained on Fashion-MNIST (data/default, made by tools/train_default_model.py from Debian's
# dataset-fashion-mnist). It prints FP32 accuracy, collects ACIQ statistics on 1000 training images, and
# evaluates the paper's W4A4 recipe (per-channel, Laplace clipping, bit allocation, bias correction).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh quant-sim  # only the program: no tests, benchmarks or tools

DATA=data/generated/fashion-mnist
MODEL=data/default/fashion_resnet.pt
/usr/bin/python3 tools/make_default_dataset.py --out "$DATA"
QS=(build/quant-sim --model "$MODEL" --data "$DATA/test" -b 250 -j 2)

echo "== FP32"
"${QS[@]}"
echo "== collect statistics (calibration: $DATA/calib)"
"${QS[@]}" -sm collect --calib-data "$DATA/calib"
echo "== W4A4: -pcq_w -pcq_a -c laplace -baa -baw -bcw"
"${QS[@]}" -sm use --qtype int4 -qw int4 -pcq_w -pcq_a -c laplace -baa -baw -bcw
echo "== W4A4 without ACIQ (-pcq_w -pcq_a -c no), for comparison"
"${QS[@]}" -sm use --qtype int4 -qw int4 -pcq_w -pcq_a -c no
echo "Results were appended to ~/aciq_data/results.jsonl"
