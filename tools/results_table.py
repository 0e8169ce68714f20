#!/usr/bin/python3
"""Prints a Markdown table of top-1 accuracies from a quant-sim results file (one JSON line per run).

Rows are configurations (precision and method flags), columns are model x --act-sites mode. When a configuration
ran more than once, the last run counts.
Usage: tools/results_table.py RESULTS.jsonl
"""
import argparse
import json
import sys

METHOD_FLAGS = [("pcq_w", "-pcq_w"), ("pcq_a", "-pcq_a"), ("baa", "-baa"), ("baw", "-baw"), ("bcw", "-bcw"),
                ("vcw", "-vcw")]


def describe(record):
    """A row label such as 'W4A4 -pcq_w -pcq_a -c laplace -baa -baw -bcw'."""
    config = record["config"]
    if record.get("precision", "FP32") == "FP32":
        return "FP32"
    flags = [flag for key, flag in METHOD_FLAGS if config.get(key)]
    if config.get("qtype", "f32") != "f32":
        flags.insert(flags.index("-pcq_a") + 1 if "-pcq_a" in flags else len(flags), f"-c {config['clipping']}")
    return " ".join([record["precision"]] + flags)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results")
    args = parser.parse_args()
    cells, rows, columns = {}, [], []
    with open(args.results) as f:
        for line in f:
            record = json.loads(line)
            row = describe(record)
            sites = record["config"]["act_sites"] if row != "FP32" else "-"
            column = f"{record['model_name']} ({sites})" if row != "FP32" else f"{record['model_name']}"
            if row not in rows:
                rows.append(row)
            if row == "FP32":
                for mode in ("outputs", "inputs"):
                    key = f"{record['model_name']} ({mode})"
                    if key not in columns:
                        columns.append(key)
                    cells[(row, key)] = record["top1"]
            else:
                if column not in columns:
                    columns.append(column)
                cells[(row, column)] = record["top1"]
    print("| configuration | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for row in rows:
        values = [f"{cells[(row, c)]:.2f}" if (row, c) in cells else "" for c in columns]
        print(f"| {row} | " + " | ".join(values) + " |")


if __name__ == "__main__":
    sys.exit(main())
