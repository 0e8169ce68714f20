#!/usr/bin/env bash
# The README's PTQ baselines table: runs (or resumes) the sweep examples/sweep_baselines.json on the shared models,
# then prints one markdown table per model (rows = methods, columns = W8A8/W4A8/W8A4/W4A4, top-1 with its 95% Wilson
# interval, and each method's weight calibration time) with tools/baselines_table.py. Finished configurations are
# skipped, so an interrupted run resumes where it stopped.
# Usage: scripts/baselines_table.sh [quant-sim sweep flags, e.g. -j 4 or --device cuda]
#        (QUANTSIM_DATA: the shared data folder, default ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
export QUANTSIM_DATA="${QUANTSIM_DATA:-$(cd .. && pwd)/shared/data}"
[ -d "$QUANTSIM_DATA/models" ] || { echo "baselines_table.sh: no shared data at $QUANTSIM_DATA (set QUANTSIM_DATA)" >&2; exit 2; }
build/quant-sim sweep examples/sweep_baselines.json "$@"
/usr/bin/python3 tools/baselines_table.py examples/sweep_baselines/results.jsonl
