#!/usr/bin/python3
"""Plot ACIQ's expected MSE against the clipping value alpha for 2, 3 and 4 bits, optimum marked.

Reads the CSV files written by the C++ tool (build/tools/optimal-alpha --csv TABLE --curve CURVE), or runs the
tool itself with --tool. Needs Debian's matplotlib: run with /usr/bin/python3.

    /usr/bin/python3 tools/plot_alpha.py --tool build/tools/optimal-alpha --out aciq_alpha.png
    /usr/bin/python3 tools/plot_alpha.py --table alpha.csv --curve curve.csv --out aciq_alpha.png
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

PRIORS = {"laplace": ("Laplace(0, b)", "alpha / b", "laplace_alpha"),
          "gauss": ("Gauss(0, sigma)", "alpha / sigma", "gauss_alpha")}


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def optimal_alphas(table_rows):
    """{(prior, bits): alpha*} from the table CSV."""
    return {(prior, int(row["bits"])): float(row[column])
            for row in table_rows for prior, (_, _, column) in PRIORS.items()}


def curves(curve_rows):
    """{(prior, bits): ([alpha], [mse])} from the curve CSV."""
    result = defaultdict(lambda: ([], []))
    for row in curve_rows:
        alphas, mses = result[(row["prior"], int(row["bits"]))]
        alphas.append(float(row["alpha"]))
        mses.append(float(row["expected_mse"]))
    return result


def interpolate(xs, ys, x):
    for (x0, y0), (x1, y1) in zip(zip(xs, ys), zip(xs[1:], ys[1:])):
        if x0 <= x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    raise ValueError(f"alpha {x} outside the curve's range")


def plot(table_rows, curve_rows, out_path):
    optima = optimal_alphas(table_rows)
    lines = curves(curve_rows)
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    for axis, (prior, (title, xlabel, _)) in zip(axes, PRIORS.items()):
        for bits in sorted(b for p, b in lines if p == prior):
            alphas, mses = lines[(prior, bits)]
            (line,) = axis.plot(alphas, mses, label=f"{bits} bits")
            best = optima[(prior, bits)]
            axis.plot([best], [interpolate(alphas, mses, best)], "o", color=line.get_color())
            axis.annotate(f"{best:.3f}", (best, interpolate(alphas, mses, best)), textcoords="offset points",
                          xytext=(4, 6), color=line.get_color())
        axis.set_yscale("log")
        axis.set_title(f"{title}: expected MSE of clip + quantize")
        axis.set_xlabel(xlabel)
        axis.set_ylabel("expected MSE (unit scale)")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(title="dot: optimal alpha")
    figure.tight_layout()
    figure.savefig(out_path, dpi=120)


def run_tool(tool, folder):
    table, curve = os.path.join(folder, "alpha.csv"), os.path.join(folder, "curve.csv")
    subprocess.run([tool, "--csv", table, "--curve", curve], check=True, stdout=subprocess.DEVNULL)
    return table, curve


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tool", help="path of build/tools/optimal-alpha, run to produce the CSV files")
    parser.add_argument("--table", help="CSV written by optimal-alpha --csv")
    parser.add_argument("--curve", help="CSV written by optimal-alpha --curve")
    parser.add_argument("--out", default="aciq_alpha.png", help="PNG to write")
    args = parser.parse_args()
    if not args.tool and not (args.table and args.curve):
        parser.error("give --tool, or both --table and --curve")
    try:
        with tempfile.TemporaryDirectory() as folder:
            table, curve = run_tool(args.tool, folder) if args.tool else (args.table, args.curve)
            plot(read_rows(table), read_rows(curve), args.out)
    except (OSError, subprocess.CalledProcessError, KeyError, ValueError) as error:
        sys.exit(f"plot_alpha.py: {error}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
