#!/usr/bin/env bash
# CI accuracy regression gate: runs the sweep .ci/accuracy_sweep.json on the real models and images ($QUANTSIM_DATA,
# default ../shared/data) and fails, with one line per entry (baseline, measured, change, tolerance), when top-1 of
# any entry of .ci/accuracy_baseline.json dropped by more than its tolerance. The comparison is `quant-sim gate`,
# whose exit status this script returns: 0 passed, 3 accuracy dropped, 2 bad input, 1 internal error.
#
#   scripts/accuracy_gate.sh                       sweep (about 80 s on 2 cores) + compare
#   scripts/accuracy_gate.sh --results R.jsonl     compare an existing results file only
#   scripts/accuracy_gate.sh --update              sweep, then rewrite the baseline (known tolerances are kept)
#   scripts/accuracy_gate.sh --update --rule R     ... new entries get rule R: tolerance (default) | significant |
#                                                  both (docs/QUANTIZATION.md, section 15; the baseline then holds
#                                                  each run's per-image correctness)
#   options: --baseline FILE; environment: QUANT_SIM (the binary, default build/quant-sim), QUANTSIM_DATA
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
quant_sim="${QUANT_SIM:-$root/build/quant-sim}"
baseline="$root/.ci/accuracy_baseline.json"
results=""
update=0
rule=tolerance
while [ $# -gt 0 ]; do
  case "$1" in
    --results) results="$2"; shift 2 ;;
    --baseline) baseline="$2"; shift 2 ;;
    --update) update=1; shift ;;
    --rule) rule="$2"; shift 2 ;;
    *) echo "accuracy_gate.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

if [ -z "$results" ]; then
  export QUANTSIM_DATA="${QUANTSIM_DATA:-$(cd "$root/.." && pwd)/shared/data}"
  if [ ! -d "$QUANTSIM_DATA" ]; then
    echo "accuracy_gate.sh: $QUANTSIM_DATA not found (set QUANTSIM_DATA to the real models and images)" >&2
    exit 2
  fi
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  results="$work/results.jsonl"
  start=$SECONDS
  "$quant_sim" sweep "$root/.ci/accuracy_sweep.json" --results "$results" --stats-dir "$work/statistics"
  echo "accuracy gate: sweep of .ci/accuracy_sweep.json took $((SECONDS - start)) s"
fi

if [ "$update" = 1 ]; then
  "$quant_sim" gate "$results" --baseline "$baseline" --write-baseline --rule "$rule"
else
  "$quant_sim" gate "$results" --baseline "$baseline"
fi
