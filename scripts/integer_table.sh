#!/usr/bin/env bash
# The README's float vs integer table: runs (or resumes) the sweep examples/sweep_integer.json (every shared model at
# W8A8/W4A8/W8A4/W4A4 with --arith int, which also runs the float fake-quant path on the same images), then prints one
# markdown table (float top-1, integer top-1, share of differing codes, top-1 disagreement) with
# tools/integer_table.py. Finished configurations are skipped, so an interrupted run resumes where it stopped.
# Usage: scripts/integer_table.sh [quant-sim sweep flags, e.g. -j 2]   (QUANTSIM_DATA: default ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
export QUANTSIM_DATA="${QUANTSIM_DATA:-$(cd .. && pwd)/shared/data}"
[ -d "$QUANTSIM_DATA/models" ] || { echo "integer_table.sh: no shared data at $QUANTSIM_DATA (set QUANTSIM_DATA)" >&2; exit 2; }
build/quant-sim sweep examples/sweep_integer.json "$@"
/usr/bin/python3 tools/integer_table.py examples/sweep_integer/results.jsonl
