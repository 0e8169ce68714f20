#!/usr/bin/python3
"""Plots and a single-file HTML report of quant-sim results.

- accuracy_vs_bits.png: top-1 against precision (W8A8, W8A4, ...), one line per method, one panel per model and
  --act-sites mode, the FP32 accuracy as a dashed line;
- layer_error_<model>.png: per-layer quantization error (SQNR in dB) of activation sites and weights, one line per
  layer-report file (--layer-report, repeatable; JSON or CSV as written by quant-sim --layer-report);
- --html FILE: the table of `quant-sim report` (rows = methods, columns = models), the plots embedded as PNG, the
  layer reports and every run, in one file that needs nothing else to open.

Needs Debian's matplotlib: run with /usr/bin/python3.

    /usr/bin/python3 tools/plot_report.py results.jsonl --html report.html
    /usr/bin/python3 tools/plot_report.py results.jsonl --layer-report w4a4.json --layer-report w4a4_aciq.json \\
        --out-dir plots --html plots/report.html
"""
import argparse
import base64
import csv
import datetime
import html
import io
import json
import math
import os
import shutil
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

# Config keys of the method flags, in the order quant-sim report writes them (results_table.cpp).
METHOD_FLAGS = [("pcq_w", "-pcq_w"), ("pcq_a", "-pcq_a"), ("baa", "-baa"), ("baw", "-baw"), ("bcw", "-bcw"),
                ("vcw", "-vcw")]
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class InputError(Exception):
    """Bad input the user can fix: printed as one line, exit status 2."""


# ---------------------------------------------------------------------------------------------------- results file

def read_results(path):
    """The records of a results file (one JSON object per line), shard lines left out as in quant-sim report."""
    records = []
    try:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(f"{path}:{number}: not JSON: {e.msg}") from None
                if not isinstance(record, dict):
                    raise InputError(f"{path}:{number}: not a JSON object")
                if record.get("config", {}).get("shard"):
                    continue  # part of a run; `quant-sim merge` adds the shards up
                records.append(record)
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from None
    return records


def bits(value):
    """'int4' -> 4, 'f32' -> 32."""
    return 32 if value in (None, "f32") else int(str(value).replace("int", ""))


def is_fp32(record):
    return record.get("precision", "FP32") == "FP32"


def method_name(record):
    """The --label of the run (a sweep's method name), else its method flags as quant-sim report writes them."""
    config = record.get("config", {})
    dynamic = config.get("qtype", "f32") != "f32" and record.get("mode") == "dynamic"
    suffix = " [dynamic]" if dynamic else ""
    if config.get("label"):
        return config["label"] + suffix
    flags = [flag for key, flag in METHOD_FLAGS if config.get(key)]
    if config.get("qtype", "f32") != "f32":
        at = flags.index("-pcq_a") + 1 if "-pcq_a" in flags else len(flags)
        flags.insert(at, "-c " + config.get("clipping", "no"))
    return (" ".join(flags) or "no flags") + suffix


def column_name(record):
    return f"{record.get('model_name', '?')} ({record.get('config', {}).get('act_sites', 'outputs')})"


def accuracy_cells(records):
    """{column: {"fp32": top1 or None, "methods": {method: {(w_bits, a_bits): top1}}}}, the last line winning."""
    fp32 = {}
    columns = {}
    for record in records:
        if "top1" not in record:
            continue
        if is_fp32(record):
            fp32[record.get("model_name", "?")] = record["top1"]
            continue
        config = record.get("config", {})
        precision = (bits(config.get("qweight")), bits(config.get("qtype")))
        column = columns.setdefault(column_name(record), {"model": record.get("model_name", "?"), "methods": {}})
        column["methods"].setdefault(method_name(record), {})[precision] = record["top1"]
    for column in columns.values():
        column["fp32"] = fp32.get(column["model"])
    return columns


def precision_label(precision):
    return f"W{precision[0]}A{precision[1]}"


def plot_accuracy_vs_bits(records, path):
    """One panel per model and site mode; False when there is no quantized run to plot."""
    columns = accuracy_cells(records)
    if not columns:
        return False
    count = len(columns)
    ncols = min(count, 3)
    nrows = math.ceil(count / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 3.9 * nrows), squeeze=False)
    for ax, (name, column) in zip(axes.flat, columns.items()):
        # Most bits on the left: accuracy falls from left to right as precision is taken away.
        precisions = sorted({p for cells in column["methods"].values() for p in cells}, reverse=True)
        positions = {p: i for i, p in enumerate(precisions)}
        for method, cells in column["methods"].items():
            xs = sorted(cells, key=lambda p: positions[p])
            ax.plot([positions[p] for p in xs], [cells[p] for p in xs], marker="o", label=method)
        if column["fp32"] is not None:
            ax.axhline(column["fp32"], color="black", linestyle="--", linewidth=1,
                       label=f"FP32 ({column['fp32']:.2f})")
        ax.set_xticks(range(len(precisions)))
        ax.set_xticklabels([precision_label(p) for p in precisions])
        ax.set_title(name)
        ax.set_xlabel("precision (weights, activations)")
        ax.set_ylabel("top-1 (%)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    for ax in list(axes.flat)[count:]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# -------------------------------------------------------------------------------------------------- layer reports

LAYER_NUMBERS = ("index", "bits_mean", "range_min", "range_max", "alpha", "mse", "sqnr_db")


def parse_histogram(text):
    """'2:10;4:54' -> {'2': 10, '4': 54}."""
    histogram = {}
    for item in filter(None, (text or "").split(";")):
        key, _, count = item.partition(":")
        histogram[key.strip()] = int(count)
    return histogram


def number(value):
    if value in (None, "", "null"):
        return None
    return float(value)


def read_layer_report(path):
    """{"model", "precision", "name", "entries": [...]} from a JSON or CSV layer report."""
    name = os.path.splitext(os.path.basename(path))[0]
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from None
    try:
        if text.lstrip().startswith("{"):
            report = json.loads(text)
            entries = report["entries"]
            model, precision = report.get("model", name), report.get("precision", "")
        else:
            entries = list(csv.DictReader(io.StringIO(text)))
            # The CSV has the entries' columns; a "model" / "precision" column, when present, names the report.
            first = entries[0] if entries else {}
            model, precision = first.get("model") or name, first.get("precision") or ""
            for entry in entries:
                entry["per_channel"] = str(entry.get("per_channel", "")).lower() in ("1", "true")
                entry["bits_histogram"] = parse_histogram(entry.get("bits_histogram"))
        for entry in entries:
            for key in LAYER_NUMBERS:
                entry[key] = number(entry.get(key))
            if entry.get("kind") not in ("activation", "weight") or not entry.get("name"):
                raise ValueError(f"entry {entry.get('name')!r}: kind must be activation or weight, with a name")
    except (ValueError, KeyError, TypeError) as e:
        raise InputError(f"{path}: not a layer report: {e}") from None
    if isinstance(model, str) and os.sep in model:
        model = os.path.splitext(os.path.basename(model))[0]
    return {"model": model, "precision": precision, "name": name, "entries": entries}


def series_label(report):
    return f"{report['precision']} ({report['name']})" if report["precision"] else report["name"]


def plot_layer_error(reports, path):
    """Reports of one model: SQNR per activation site and per weight, a line per report, names in layer order."""
    fig, axes = plt.subplots(2, 1, figsize=(max(7.0, 0.28 * max_entries(reports) + 2), 7.5), squeeze=False)
    for ax, kind in zip(axes.flat, ("activation", "weight")):
        names = []
        for report in reports:
            for entry in sorted((e for e in report["entries"] if e["kind"] == kind),
                                key=lambda e: (e["index"] is None, e["index"] or 0)):
                if entry["name"] not in names:
                    names.append(entry["name"])
        for report in reports:
            sqnr = {e["name"]: e["sqnr_db"] for e in report["entries"] if e["kind"] == kind}
            ys = [sqnr.get(n) for n in names]
            ax.plot(range(len(names)), [math.nan if y is None else y for y in ys], marker="o", markersize=3,
                    label=series_label(report))
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=90, fontsize=7)
        ax.set_ylabel("SQNR (dB), higher is better")
        ax.set_title(f"{reports[0]['model']}: {kind}s")
        ax.grid(alpha=0.3)
        if names:
            ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def max_entries(reports):
    return max(sum(1 for e in r["entries"] if e["kind"] == kind) for r in reports for kind in ("activation", "weight"))


# ----------------------------------------------------------------------------------------------------------- HTML

STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{border:1px solid #ccc;padding:3px 8px}
th{background:#f0f0f0}td.n{text-align:right;font-variant-numeric:tabular-nums}img{max-width:100%}
caption{text-align:left;font-weight:bold;padding:4px 0}.note{color:#666}"""


def html_table(header, rows, caption=""):
    def cell(value, tag):
        text = "" if value is None else (f"{value:.2f}" if isinstance(value, float) else str(value))
        numeric = isinstance(value, (int, float)) or _looks_numeric(text)
        return f"<{tag}{' class=n' if numeric and tag == 'td' else ''}>{html.escape(text)}</{tag}>"
    out = ["<table>"]
    if caption:
        out.append(f"<caption>{html.escape(caption)}</caption>")
    out.append("<tr>" + "".join(cell(h, "th") for h in header) + "</tr>")
    out.extend("<tr>" + "".join(cell(v, "td") for v in row) + "</tr>" for row in rows)
    out.append("</table>")
    return "\n".join(out)


def _looks_numeric(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def embedded_png(path, alt):
    with open(path, "rb") as f:
        data = base64.b64encode(f.read()).decode("ascii")
    return f'<p><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></p>'


def find_quant_sim(given):
    for candidate in (given, os.environ.get("QUANT_SIM"), os.path.join(REPO_ROOT, "build", "quant-sim"),
                      shutil.which("quant-sim")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def report_table_html(results_path, quant_sim):
    """The table of `quant-sim report --format csv`, as HTML; a note when the binary is not at hand."""
    binary = find_quant_sim(quant_sim)
    if binary is None:
        return '<p class="note">quant-sim not found (--quant-sim BIN): no method table.</p>'
    done = subprocess.run([binary, "report", results_path, "--format", "csv"], capture_output=True, text=True)
    if done.returncode != 0:
        raise InputError(done.stderr.strip() or f"{binary} report failed")
    rows = list(csv.reader(io.StringIO(done.stdout)))
    return html_table(rows[0], rows[1:], "top-1 (%): rows are methods, columns are models (act-sites)")


def runs_table_html(records):
    rows = []
    for r in records:
        config = r.get("config", {})
        rows.append([r.get("model_name"), r.get("precision"), "" if is_fp32(r) else method_name(r),
                     config.get("act_sites"), r.get("top1"), r.get("top5"), r.get("images"),
                     r.get("images_per_second"), r.get("timestamp")])
    return html_table(["model", "precision", "method", "act-sites", "top-1", "top-5", "images", "images/s", "when"],
                      rows, "every run, in the results file's order")


def layer_table_html(report):
    rows = [[e["kind"], e["name"], e.get("per_channel"), e["bits_mean"], e["range_min"], e["range_max"], e["alpha"],
             e["mse"], e["sqnr_db"]] for e in report["entries"]]
    for row in rows:  # small errors need more than two decimals
        row[7] = None if row[7] is None else f"{row[7]:.3g}"
    return html_table(["kind", "name", "per channel", "bits", "min", "max", "alpha", "MSE", "SQNR dB"], rows)


def write_html(path, args, records, accuracy_png, layer_pngs, reports):
    parts = [f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(args.title)}</title>"
             f"<style>{STYLE}</style></head><body>", f"<h1>{html.escape(args.title)}</h1>"]
    generated = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if args.results:
        parts.append(f'<p class="note">{html.escape(args.results)}: {len(records)} runs; generated {generated}</p>')
        parts.append("<h2>Top-1 accuracy</h2>")
        parts.append(report_table_html(args.results, args.quant_sim))
    if accuracy_png:
        parts.append("<h2>Accuracy against bits</h2>")
        parts.append(embedded_png(accuracy_png, "top-1 against bits"))
    if reports:
        parts.append("<h2>Per-layer quantization error</h2>")
        for model, png in layer_pngs:
            parts.append(f"<h3>{html.escape(str(model))}</h3>")
            parts.append(embedded_png(png, f"per-layer SQNR of {model}"))
        for report in reports:
            parts.append(f"<details><summary>{html.escape(series_label(report))}: {len(report['entries'])} "
                         f"entries</summary>{layer_table_html(report)}</details>")
    if records:
        parts.append("<h2>Runs</h2>")
        parts.append(runs_table_html(records))
    parts.append("</body></html>\n")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))
    os.replace(tmp, path)  # never a half-written report


# ----------------------------------------------------------------------------------------------------------- main

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("results", nargs="?", help="results file (results.jsonl)")
    parser.add_argument("--layer-report", action="append", default=[], metavar="FILE",
                        help="layer report (JSON or CSV) of quant-sim --layer-report; repeatable")
    parser.add_argument("--out-dir", help="folder of the PNG files (default: the HTML file's folder, else .)")
    parser.add_argument("--html", help="write a single-file HTML report here")
    parser.add_argument("--quant-sim", help="quant-sim binary for the method table (default: $QUANT_SIM, "
                                            "build/quant-sim, then PATH)")
    parser.add_argument("--title", default="quant-sim report", help="title of the HTML report")
    args = parser.parse_args(argv)
    if not args.results and not args.layer_report:
        parser.error("give a results file, --layer-report FILE, or both")
    return args


def run(args):
    out_dir = args.out_dir or (os.path.dirname(os.path.abspath(args.html)) if args.html else ".")
    os.makedirs(out_dir, exist_ok=True)
    records = read_results(args.results) if args.results else []
    reports = [read_layer_report(path) for path in args.layer_report]
    written = []
    accuracy_png = os.path.join(out_dir, "accuracy_vs_bits.png")
    if not plot_accuracy_vs_bits(records, accuracy_png):
        accuracy_png = None
    else:
        written.append(accuracy_png)
    layer_pngs = []
    for model in dict.fromkeys(r["model"] for r in reports):
        png = os.path.join(out_dir, f"layer_error_{model}.png")
        plot_layer_error([r for r in reports if r["model"] == model], png)
        layer_pngs.append((model, png))
        written.append(png)
    if args.html:
        write_html(args.html, args, records, accuracy_png, layer_pngs, reports)
        written.append(args.html)
    for path in written:
        print(f"wrote {path}")


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        run(args)
    except InputError as e:
        print(f"plot_report.py: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
