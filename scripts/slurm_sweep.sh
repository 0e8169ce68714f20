#!/usr/bin/env bash
# A quant-sim sweep on a Slurm cluster: a job array whose tasks all run the same sweep file (each configuration is
# claimed by one task through a lock file next to the results, so tasks never repeat each other's work), then one
# report job once the array has ended. Run it from any folder, on a filesystem every node shares (the repository,
# the sweep's models and images, and the results; flock must work on it: NFSv4 or Lustre mounted with -o flock):
#
#   bash scripts/slurm_sweep.sh SWEEP.json [TASKS]        # submits TASKS workers (default 4) and the report job
#
# Environment: RESULTS (default sweep_results/results.jsonl), QUANT_SIM (default build/quant-sim of this
# repository), SBATCH_ARGS (extra sbatch options, e.g. "--partition=gpu --gres=gpu:1 --cpus-per-task=4
# --time=04:00:00"). Relative paths are relative to the folder you submit from; they are made absolute here, and the
# jobs get them as arguments, so they need neither the submission's environment nor its folder (a job runs a copy of
# this script from slurmd's spool, so the script cannot find the repository from its own path there). Each task gets
# its own GPU through --gres; Slurm's CUDA_VISIBLE_DEVICES makes it the task's cuda:0. A task that dies (node
# failure, time limit) leaves its configuration unfinished: run the submission again and only what is missing runs.
# The report job needs /usr/bin/python3 with matplotlib (Debian's python3-matplotlib) for the plots and
# report.html; without it, it writes the tables and says the plots were skipped. scripts/slurm_local_check.sh runs
# all of this on a one-node Slurm started on localhost.
set -euo pipefail

case "${1:-}" in
  worker)  # inside the array: run whatever is unclaimed and unfinished. Arguments: QUANT_SIM SWEEP RESULTS
    exec "$2" sweep "$3" --results "$4"
    ;;
  report)  # after the array: the table, CSV and plots; --list shows anything left undone. Arguments: as worker, ROOT
    quant_sim="$2" sweep="$3" results="$4" root="$5"
    out="$(dirname "$results")"
    "$quant_sim" sweep "$sweep" --results "$results" --list
    "$quant_sim" report "$results" --format markdown --out "$out/table.md"
    "$quant_sim" report "$results" --format csv --out "$out/table.csv"
    if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
      /usr/bin/python3 "$root/tools/plot_report.py" "$results" --out-dir "$out" --html "$out/report.html" \
                       --quant-sim "$quant_sim"
    else
      echo "report: $(hostname) has no /usr/bin/python3 with matplotlib (Debian python3-matplotlib): plots and" \
           "report.html skipped; $out/table.md and table.csv written"
    fi
    ;;
  *)  # submission
    sweep="${1:?usage: bash scripts/slurm_sweep.sh SWEEP.json [TASKS]}"
    tasks="${2:-4}"
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    quant_sim="$(realpath -m "${QUANT_SIM:-$root/build/quant-sim}")"
    results="$(realpath -m "${RESULTS:-sweep_results/results.jsonl}")"
    sweep="$(realpath -e "$sweep")"
    [ -x "$quant_sim" ] || { echo "slurm_sweep.sh: $quant_sim is not an executable (set QUANT_SIM)" >&2; exit 2; }
    out="$(dirname "$results")"
    mkdir -p "$out"
    # shellcheck disable=SC2086  # SBATCH_ARGS is a list of options
    array=$(sbatch --parsable --job-name=quant-sim-sweep --array="1-$tasks" --output="$out/slurm-%A_%a.out" \
            ${SBATCH_ARGS:-} "$0" worker "$quant_sim" "$sweep" "$results")
    array="${array%%;*}"  # --parsable prints ID;CLUSTER on a multi-cluster set-up
    # afterany: report what finished even when a task failed.
    report=$(sbatch --parsable --job-name=quant-sim-report --dependency="afterany:$array" \
             --output="$out/slurm-%j-report.out" "$0" report "$quant_sim" "$sweep" "$results" "$root")
    echo "submitted job array ${array} ($tasks tasks) and report job ${report%%;*}; results: $results"
    ;;
esac
