#!/usr/bin/python3
"""Fixtures of test_archs: every torchvision classifier of archs.txt exported with tools/export_model.py (random
weights, seed 3, 10 classes, --resize/--crop at the size archs.txt gives), and an image folder of 2 images in 10
classes (images/c0/0.png, images/c1/0.png, images/classes.txt listing c0..c9).

torchvision initializes BatchNorm to the identity (mean 0, variance 1, weight 1, bias 0), which would make BN folding
nearly trivial to get right; the BatchNorm parameters and statistics are drawn at random too, and the model is
handed to export_model.py as a state_dict (--weights), removed afterwards.

    make_arch_fixtures.py --out BUILD/arch_fixtures

Runs once per build directory: a READY file records a hash of its inputs (archs.txt, this script,
tools/export_model.py) and a later call with the same inputs returns at once, without importing torch. Calls are
serialized by an flock on OUT/.lock, so parallel test processes never read half-written files. Without torchvision
it writes OUT/UNAVAILABLE (the reason, one line) and exits 0: the tests then skip with that reason.
"""

import argparse
import fcntl
import hashlib
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(HERE, "..", "..", "tools")
SEED = 3
NUM_CLASSES = 10


def read_archs():
    archs = []
    with open(os.path.join(HERE, "archs.txt")) as f:
        for line in f:
            line = line.split("#", 1)[0].split()
            if line:
                archs.append((line[0], int(line[1])))
    return archs


def inputs_hash():
    h = hashlib.sha256()
    for path in (os.path.join(HERE, "archs.txt"), os.path.abspath(__file__), os.path.join(TOOLS, "export_model.py")):
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def write_text(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def make_images(root):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(SEED)
    os.makedirs(root, exist_ok=True)
    for c in range(2):
        os.makedirs(os.path.join(root, f"c{c}"), exist_ok=True)
        pixels = rng.integers(0, 256, size=(72, 80, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(os.path.join(root, f"c{c}", "0.png"))
    write_text(os.path.join(root, "classes.txt"), "".join(f"c{c}\n" for c in range(NUM_CLASSES)))


def random_state(export_model, arch):
    """export_model's seeded random model, its BatchNorm layers given random affine parameters and statistics."""
    import torch

    model = export_model.build_model(arch, None, SEED, NUM_CLASSES)
    g = torch.Generator().manual_seed(SEED)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.running_mean.copy_(0.1 * torch.randn(n, generator=g))
            m.running_var.copy_(0.5 + 1.5 * torch.rand(n, generator=g))
            m.weight.data.copy_(0.5 + torch.rand(n, generator=g))
            m.bias.data.copy_(0.1 * torch.randn(n, generator=g))
    return model.state_dict()


def build(out, stamp):
    for name in ("READY", "UNAVAILABLE"):
        if os.path.exists(os.path.join(out, name)):
            os.remove(os.path.join(out, name))
    try:
        import torchvision  # noqa: F401
    except ImportError as e:
        write_text(os.path.join(out, "UNAVAILABLE"), f"{sys.executable} cannot import torchvision ({e})\n")
        print(f"make_arch_fixtures: {sys.executable} has no torchvision: test_archs will skip")
        return
    import torch
    sys.path.insert(0, TOOLS)
    import export_model

    make_images(os.path.join(out, "images"))
    for arch, size in read_archs():
        start = time.time()
        weights = os.path.join(out, arch + ".random.pth")
        torch.save(random_state(export_model, arch), weights)
        export_model.main(["--arch", arch, "--weights", weights, "--num-classes", str(NUM_CLASSES), "--resize",
                           str(size), "--crop", str(size), "--out", os.path.join(out, arch + ".pt")])
        os.remove(weights)
        print(f"make_arch_fixtures: {arch} ({size} x {size}) in {time.time() - start:.1f} s", flush=True)
    write_text(os.path.join(out, "READY"), stamp + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="fixture folder (BUILD/arch_fixtures)")
    out = os.path.abspath(p.parse_args().out)
    os.makedirs(out, exist_ok=True)
    stamp = inputs_hash()
    with open(os.path.join(out, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the process exits, however it exits
        ready = os.path.join(out, "READY")
        if os.path.exists(ready) and open(ready).read().strip() == stamp:
            return
        build(out, stamp)


if __name__ == "__main__":
    main()
