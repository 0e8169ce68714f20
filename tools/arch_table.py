#!/usr/bin/python3
"""Prints the README's "Architectures" table: for each torchvision classifier, what quant-sim quantizes (conv/linear
layers), how many activation sites each --act-sites mode has, and which ops stay float. Each architecture is exported
with tools/export_model.py (random weights: the structure is what counts) into a temporary folder, and read back with
`quant-sim inspect --json`."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPORT = os.path.join(ROOT, "tools", "export_model.py")
ARCHS = ("alexnet vgg11_bn resnet18 resnet50 resnext50_32x4d wide_resnet50_2 densenet121 googlenet inception_v3 "
         "squeezenet1_1 shufflenet_v2_x1_0 mobilenet_v2 mobilenet_v3_small mobilenet_v3_large mnasnet1_0 "
         "efficientnet_b0 efficientnet_v2_s regnet_y_400mf convnext_tiny").split()
MAIN_KINDS = 5  # float op kinds named per row; the rest are counted together


def export_flags():
    """--num-classes 10 when export_model.py has it (smaller files, same structure)."""
    help_text = subprocess.run([sys.executable, EXPORT, "--help"], capture_output=True, text=True, check=True).stdout
    return ["--num-classes", "10"] if "--num-classes" in help_text else []


def export(arch, folder, flags):
    out = os.path.join(folder, arch + ".pt")
    subprocess.run([sys.executable, EXPORT, "--arch", arch, "--out", out] + flags, check=True,
                   stdout=subprocess.DEVNULL)
    return out


def inspect(quant_sim, model):
    done = subprocess.run([quant_sim, "inspect", model, "--json"], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip() or f"quant-sim inspect exited with {done.returncode}")
    return json.loads(done.stdout)


def float_ops_cell(report):
    counts = [(c["op"].split("::")[-1], c["count"]) for c in report["float_op_counts"]]
    if len(counts) <= MAIN_KINDS + 1:  # collapsing a single kind would say less in the same space
        return f"{report['summary']['float_ops']}: " + ", ".join(f"{op} {n}" for op, n in counts)
    named = [f"{op} {n}" for op, n in counts[:MAIN_KINDS]]
    rest = counts[MAIN_KINDS:]
    named.append(f"{len(rest)} more kinds ({sum(n for _, n in rest)} ops)")
    return f"{report['summary']['float_ops']}: " + ", ".join(named)


def row(arch, report):
    s = report["summary"]
    return (f"| {arch} | {s['layers']} ({s['conv']} / {s['linear']}) | {s['sites']['outputs']} | "
            f"{s['sites']['inputs']} | {float_ops_cell(report)} |")


def table(rows):
    head = ["| architecture | quantized layers (conv / linear) | sites, paper mode (`outputs`) | "
            "sites, deploy mode (`inputs`) | ops left in float: count, main kinds |",
            "|---|---|---|---|---|"]
    return "\n".join(head + rows)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0].strip() + " (README: Architectures).")
    p.add_argument("--quant-sim", default=os.environ.get("QUANT_SIM", os.path.join(ROOT, "build", "quant-sim")),
                   help="quant-sim binary (default $QUANT_SIM, else build/quant-sim)")
    p.add_argument("--models", metavar="DIR",
                   help="read DIR/<arch>.pt where it exists instead of exporting (faster reruns)")
    p.add_argument("--archs", default=",".join(ARCHS), help="comma-separated torchvision names (default: all 19)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    flags = export_flags()
    rows, failed = [], []
    with tempfile.TemporaryDirectory(prefix="arch_table_") as folder:
        for arch in args.archs.split(","):
            print(f"arch_table: {arch}", file=sys.stderr, flush=True)
            given = os.path.join(args.models, arch + ".pt") if args.models else None
            model = given if given and os.path.isfile(given) else export(arch, folder, flags)
            try:
                rows.append(row(arch, inspect(args.quant_sim, model)))
            except RuntimeError as e:
                failed.append(arch)
                rows.append(f"| {arch} | pending: {e} | | | |")
            if model != given:
                os.remove(model)  # VGG and AlexNet take hundreds of MB each
    print(table(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
