#!/usr/bin/python3
"""The README's float vs integer table from the results of examples/sweep_integer.json.

One row per model, method and bit pair of the `--arith int` runs: top-1 of the float fake-quant path (float_top1)
and of the integer path (top1) on the same images in the same process, the share of activation codes that differ
between the two paths over all sites (arith_gap.codes_differing_share), the largest difference in steps, and the share
of images whose top-1 class differs. The last line of a results file wins for a configuration, as in
`quant-sim report`.

    /usr/bin/python3 tools/integer_table.py examples/sweep_integer/results.jsonl
"""
import sys

from baselines_table import read_lines  # the same results-file reader (last line wins is done below)

PRECISIONS = ["W8A8", "W4A8", "W8A4", "W4A4"]


def row(model, label, precision, line):
    gap = line["arith_gap"]
    return (f"| {model} | {label} | {precision} | {line['float_top1']:.2f} | {line['top1']:.2f} | "
            f"{line['top1'] - line['float_top1']:+.2f} | {100 * gap['codes_differing_share']:.3f} % | "
            f"{gap['max_step_difference']} | {100 * gap['top1_differs_share']:.2f} % |")


def main(argv):
    if len(argv) != 2:
        raise SystemExit("usage: integer_table.py RESULTS.jsonl")
    runs = {}  # (model, label, precision) -> line, first-seen order, last line wins
    for line in read_lines(argv[1]):
        if line.get("config", {}).get("shard") or line.get("arith") != "int":
            continue  # shards count once merged; only integer runs carry both paths
        key = (line["model_name"], line.get("config", {}).get("label") or "(no label)", line.get("precision", "?"))
        runs[key] = line
    order = {p: i for i, p in enumerate(PRECISIONS)}
    print("| model | method | bits | float top-1 | integer top-1 | int - float | codes differing | max steps | "
          "top-1 class differs |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    models = list(dict.fromkeys(k[0] for k in runs))
    for key in sorted(runs, key=lambda k: (models.index(k[0]), k[1], order.get(k[2], len(order)))):
        print(row(*key, runs[key]))


if __name__ == "__main__":
    main(sys.argv)
