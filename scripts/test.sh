#!/usr/bin/env bash
# README command 2: installs what is missing, builds everything (tests, benchmarks, tools), and runs every test through
# ctest.
# Integration tests on real models and images run when ../shared/data (or $QUANTSIM_DATA) exists, and say that they
# were skipped otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export QUANTSIM_DATA="${QUANTSIM_DATA:-$(cd .. && pwd)/shared/data}"
if [ -d "$QUANTSIM_DATA" ]; then
  echo "test: real-data integration tests use $QUANTSIM_DATA"
else
  echo "test: $QUANTSIM_DATA not found: real-data integration tests will be skipped"
fi
cd build
ctest --output-on-failure -j"$(nproc)" --timeout 1500
cd ..
# The accuracy regression gate (.ci/accuracy_baseline.json) needs the real models and images.
if [ -d "$QUANTSIM_DATA" ]; then
  bash scripts/accuracy_gate.sh
else
  echo "test: $QUANTSIM_DATA not found: accuracy gate skipped"
fi
