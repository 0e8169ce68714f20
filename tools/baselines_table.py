#!/usr/bin/python3
"""The README's PTQ baselines table from the results of examples/sweep_baselines.json.

One markdown table per model: rows are the sweep's methods (its "label"), columns the bit pairs W8A8, W4A8, W8A4,
W4A4, each cell top-1 with its 95% Wilson interval as the results line records it (top1_ci95), and the last column
the seconds the method's weight calibration took (quantize_weights_s + bias_correction_s, the median over the
method's runs). The range methods' calibration is the shared `-sm collect` pass, which results lines do not time.
The last line of a results file wins for a configuration, as in `quant-sim report`.

    /usr/bin/python3 tools/baselines_table.py examples/sweep_baselines/results.jsonl
"""
import json
import statistics
import sys

COLUMNS = ["W8A8", "W4A8", "W8A4", "W4A4"]


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        for number, text in enumerate(f, 1):
            text = text.strip()
            if not text:
                continue
            try:
                yield json.loads(text)
            except json.JSONDecodeError as error:
                raise SystemExit(f"{path}:{number}: not a results line: {error}")


def cell(line):
    top1 = line["top1"]
    ci = line.get("top1_ci95")
    return f"{top1:.2f} [{ci[0]:.1f}, {ci[1]:.1f}]" if ci else f"{top1:.2f}"


def calibration_seconds(line):
    times = line.get("times", {})
    return times.get("quantize_weights_s", 0.0) + times.get("bias_correction_s", 0.0)


def main(argv):
    if len(argv) != 2:
        raise SystemExit("usage: baselines_table.py RESULTS.jsonl")
    models = {}  # model -> {"fp32": line, "methods": {label: {precision: line}}}, in first-seen order
    for line in read_lines(argv[1]):
        if line.get("config", {}).get("shard"):
            continue  # shards count once merged
        model = models.setdefault(line["model_name"], {"fp32": None, "images": line.get("images"), "methods": {}})
        precision = line.get("precision", "FP32")
        if precision == "FP32":
            model["fp32"] = line
            continue
        label = line.get("config", {}).get("label") or "(no label)"
        model["methods"].setdefault(label, {})[precision] = line
    for name, model in models.items():
        fp32 = f", FP32 {cell(model['fp32'])}" if model["fp32"] else ""
        print(f"**{name}** ({model['images']} images{fp32})\n")
        print("| method | " + " | ".join(COLUMNS) + " | weight calibration (s) |")
        print("|---|" + "---:|" * (len(COLUMNS) + 1))
        for label, runs in model["methods"].items():
            cells = [cell(runs[c]) if c in runs else "not run" for c in COLUMNS]
            seconds = statistics.median(calibration_seconds(line) for line in runs.values())
            print(f"| {label} | " + " | ".join(cells) + f" | {seconds:.1f} |")
        print()


if __name__ == "__main__":
    main(sys.argv)
