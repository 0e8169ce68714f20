#!/usr/bin/env bash
# A quant-sim sweep on a Slurm cluster: a job array whose tasks all run the same sweep file (each configuration is
# claimed by one task through a lock file next to the results, so tasks never repeat each other's work), then one
# report job once the array has ended. Run from the repository root, on a filesystem every node shares (flock must
# work on it: NFSv4 or Lustre mounted with -o flock):
#
#   bash scripts/slurm_sweep.sh SWEEP.json [TASKS]        # submits TASKS workers (default 4) and the report job
#
# Environment: RESULTS (default sweep_results/results.jsonl), QUANT_SIM (default build/quant-sim), SBATCH_ARGS
# (extra sbatch options, e.g. "--partition=gpu --gres=gpu:1 --time=04:00:00"). Each task gets its own GPU through
# --gres; Slurm's CUDA_VISIBLE_DEVICES makes it the task's cuda:0. A task that dies (node failure, time limit) leaves
# its configuration unfinished: run the submission again and only what is missing runs.
set -euo pipefail

role="${1:-}"
quant_sim="${QUANT_SIM:-build/quant-sim}"
results="${RESULTS:-sweep_results/results.jsonl}"

case "$role" in
  worker)  # inside the array: run whatever is unclaimed and unfinished
    exec "$quant_sim" sweep "$2" --results "$results"
    ;;
  report)  # after the array: the table, CSV and plots; --list shows anything left undone
    out="$(dirname "$results")"
    "$quant_sim" sweep "$2" --results "$results" --list
    "$quant_sim" report "$results" --format markdown --out "$out/table.md"
    "$quant_sim" report "$results" --format csv --out "$out/table.csv"
    /usr/bin/python3 tools/plot_report.py "$results" --out-dir "$out" --html "$out/report.html" --quant-sim "$quant_sim"
    ;;
  *)  # submission
    sweep="${1:?usage: bash scripts/slurm_sweep.sh SWEEP.json [TASKS]}"
    tasks="${2:-4}"
    mkdir -p "$(dirname "$results")"
    export RESULTS="$results" QUANT_SIM="$quant_sim"
    # shellcheck disable=SC2086  # SBATCH_ARGS is a list of options
    array=$(sbatch --parsable --job-name=quant-sim-sweep --array="1-$tasks" --output="$(dirname "$results")/slurm-%A_%a.out" \
            ${SBATCH_ARGS:-} "$0" worker "$sweep")
    # afterany: report what finished even when a task failed.
    sbatch --parsable --job-name=quant-sim-report --dependency="afterany:$array" \
           --output="$(dirname "$results")/slurm-%j-report.out" "$0" report "$sweep"
    echo "submitted job array $array ($tasks tasks) and its report job; results: $results"
    ;;
esac
