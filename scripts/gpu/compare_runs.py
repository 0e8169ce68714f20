#!/usr/bin/env python3
"""Comparisons for scripts/gpu/check.sh (numpy only; runs with the GPU machine's python3 and Debian's).

  compare_runs.py logits REF.npy DUT.npy --rel-tol T [--min-agreement A]
      Logits of the same images from two runs (quant-sim --save-logits). Prints one line:
      max |diff|, that relative to max |REF|, argmax agreement. Passes (exit 0) when the relative difference is
      <= T and, without --min-agreement, every image whose REF top-1/top-2 margin exceeds twice the largest
      difference has the same argmax (a closer margin is a tie that float noise may flip); with --min-agreement,
      when at least that share of the images has the same argmax (quantized runs: a float difference that moves a
      value across a rounding step changes the result by a whole step).
  compare_runs.py field RESULTS.jsonl KEY
      Prints KEY of the last results line (e.g. top1, images_per_second).
  compare_runs.py stats DIR_A DIR_B
      Largest relative difference between the numbers of the statistics files (*.json) under two folders of the same
      layout; prints it and the number of values compared.
"""
import json
import math
import os
import sys

import numpy as np


def fail(message):
    print(f"compare_runs: {message}")
    sys.exit(2)


def logits(args):
    ref_path, dut_path = args[0], args[1]
    rel_tol = float(args[args.index("--rel-tol") + 1])
    min_agreement = float(args[args.index("--min-agreement") + 1]) if "--min-agreement" in args else None
    ref = np.load(ref_path).astype(np.float64)
    dut = np.load(dut_path).astype(np.float64)
    if ref.shape != dut.shape or ref.ndim != 2:
        fail(f"logits shapes differ or are not [images, classes]: {ref.shape} vs {dut.shape}")
    if not (np.isfinite(ref).all() and np.isfinite(dut).all()):
        fail("non-finite logits")
    diff = np.abs(ref - dut)
    max_abs = float(diff.max()) if diff.size else 0.0
    scale = float(np.abs(ref).max()) if ref.size else 0.0
    rel = max_abs / scale if scale > 0 else max_abs
    ref_top = ref.argmax(axis=1)
    dut_top = dut.argmax(axis=1)
    agree = int((ref_top == dut_top).sum())
    images = ref.shape[0]
    ordered = np.sort(ref, axis=1)
    margin = ordered[:, -1] - ordered[:, -2] if ref.shape[1] > 1 else np.full(images, np.inf)
    clear = margin > 2 * max_abs
    clear_disagree = int((clear & (ref_top != dut_top)).sum())
    # No '|' in the text: check.sh puts it in a markdown table cell.
    line = (f"max abs diff {max_abs:.3g} ({rel:.2e} of the largest logit, {scale:.3g});"
            f" argmax agrees on {agree}/{images} ({100.0 * agree / max(images, 1):.1f}%)")
    if min_agreement is None:
        ok = rel <= rel_tol and clear_disagree == 0
        line += f"; {clear_disagree} disagree outside ties; tolerance {rel_tol:g} relative"
    else:
        ok = rel <= rel_tol and agree >= min_agreement * images
        line += f"; needs {100 * min_agreement:g}% agreement, {rel_tol:g} relative"
    print(("ok: " if ok else "FAILED: ") + line)
    sys.exit(0 if ok else 1)


def field(args):
    path, key = args
    with open(path) as f:
        lines = [line for line in f if line.strip()]
    if not lines:
        fail(f"{path} has no results line")
    record = json.loads(lines[-1])
    if key not in record:
        fail(f"{path}: no '{key}' in the last results line")
    print(record[key])


def numbers(value, prefix, out):
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        out[prefix] = float(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            numbers(v, f"{prefix}/{k}", out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            numbers(v, f"{prefix}[{i}]", out)


def stats(args):
    dir_a, dir_b = args
    values_a, values_b = {}, {}
    for root, _, files in os.walk(dir_a):
        for name in sorted(files):
            if not name.endswith(".json"):
                continue
            rel_path = os.path.relpath(os.path.join(root, name), dir_a)
            other = os.path.join(dir_b, rel_path)
            if not os.path.exists(other):
                fail(f"{rel_path} is in {dir_a} but not in {dir_b}")
            with open(os.path.join(root, name)) as f:
                numbers(json.load(f), rel_path, values_a)
            with open(other) as f:
                numbers(json.load(f), rel_path, values_b)
    if not values_a:
        fail(f"no statistics values under {dir_a}")
    worst, where = 0.0, ""
    for key, a in values_a.items():
        if key not in values_b:
            fail(f"{key} is missing from {dir_b}")
        b = values_b[key]
        if math.isnan(a) and math.isnan(b):
            continue
        d = abs(a - b) / max(abs(a), abs(b), 1e-30)
        if d > worst:
            worst, where = d, key
    print(f"largest relative difference {worst:.2e} over {len(values_a)} values" + (f" (at {where})" if where else ""))


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in ("logits", "field", "stats"):
        print(__doc__)
        sys.exit(2)
    {"logits": logits, "field": field, "stats": stats}[sys.argv[1]](sys.argv[2:])
