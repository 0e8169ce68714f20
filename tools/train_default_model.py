#!/usr/bin/python3
"""Train quant-sim's built-in default model: a small CIFAR-style ResNet on Fashion-MNIST.

Data: Debian's `dataset-fashion-mnist` (IDX files in /usr/share/datasets/fashion-mnist).
Output: a TorchScript file (torch.jit.script, eval mode) plus a sidecar JSON next to it
with the same keys as the shared model sidecars (see shared/data/README.md).

The network sees 3x28x28 RGB: the gray image replicated to three channels, because
the C++ pipeline decodes every image as RGB. Normalization follows the sidecar
convention x = (pixel/255 - mean)/std with the same mean/std on all channels, and
there is no resize or crop.

Training is seeded and single-process (torch.set_num_threads), so the same seed and
thread count give the same model. `--verify DIR` re-checks a saved model against the
PNG dataset written by tools/make_default_dataset.py.
"""

import argparse
import datetime
import hashlib
import json
import os
import sys
import time

import numpy as np

# The build machine is shared with compilers: with OpenMP's default busy-waiting, two
# torch threads that lose their cores spin and run several times slower (measured:
# 3.5x wall, 4x CPU under load 7). Passive waiting must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# TorchScript writes a module's constants in set order, which depends on Python's string
# hash seed; pin it (by re-executing) so the same seed gives a byte-identical .pt file.
if __name__ == "__main__" and os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)
import torch  # noqa: E402

from export_model import sha256_file  # noqa: E402  (tools/ is on sys.path: the script's own folder)
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_default_dataset import CLASSES, DEFAULT_SOURCE, load_split  # noqa: E402

# Fashion-MNIST train-set pixel statistics (pixel/255): mean 0.2860, std 0.3530.
# Rounded so the sidecar carries short, exact numbers.
MEAN = 0.286
STD = 0.353


# --------------------------------------------------------------------------- model

class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, residual add, ReLU after the add.
    A stride-2 block uses a 1x1 stride-2 conv (+BN) shortcut, as in torchvision."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class FashionResNet(nn.Module):
    """CIFAR-style ResNet: stem conv-BN-ReLU (16 ch), 3 stages of basic blocks
    (16/32/64 ch, stages 2 and 3 start with stride 2), global average pool, Linear.
    Module names follow torchvision (conv1, bn1, layer1..3, avgpool, fc)."""

    def __init__(self, blocks_per_stage=1, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._stage(16, 16, 1, blocks_per_stage)
        self.layer2 = self._stage(16, 32, 2, blocks_per_stage)
        self.layer3 = self._stage(32, 64, 2, blocks_per_stage)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    @staticmethod
    def _stage(cin, cout, stride, n):
        blocks = [BasicBlock(cin, cout, stride)]
        blocks += [BasicBlock(cout, cout, 1) for _ in range(n - 1)]
        return nn.Sequential(*blocks)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


# --------------------------------------------------------------------------- data

def to_input(gray_u8):
    """uint8 [N,28,28] -> normalized float [N,3,28,28] (gray replicated to RGB).
    Same arithmetic as the sidecar: (pixel/255 - mean)/std."""
    x = torch.from_numpy(np.array(gray_u8)).float().div_(255.0)  # copy: IDX buffer is read-only
    x = x.sub_(MEAN).div_(STD)
    return x.unsqueeze(1).expand(-1, 3, -1, -1).contiguous()


def evaluate(model, x, y, batch_size=1000):
    """Top-1 / top-5 accuracy in percent, rounded to 2 decimals like the shared sidecars."""
    model.eval()
    top1 = top5 = 0
    with torch.no_grad():
        for i in range(0, len(y), batch_size):
            logits = model(x[i:i + batch_size])
            t = y[i:i + batch_size]
            top = logits.topk(5, dim=1).indices
            top1 += (top[:, 0] == t).sum().item()
            top5 += (top == t[:, None]).any(dim=1).sum().item()
    n = len(y)
    return {"images": n, "top1": round(100.0 * top1 / n, 2), "top5": round(100.0 * top5 / n, 2)}


# --------------------------------------------------------------------------- training

def make_optimizer(name, params, lr, weight_decay):
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)


def train(model, x, y, epochs, batch_size, optimizer, lr, weight_decay, seed, log_every=100):
    """One-cycle LR schedule, random horizontal flips.
    Returns (wall-clock seconds, CPU seconds of this process): on a shared machine the
    CPU time is the better measure of cost."""
    gen = torch.Generator().manual_seed(seed)
    steps_per_epoch = (len(y) + batch_size - 1) // batch_size
    opt = make_optimizer(optimizer, model.parameters(), lr, weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, epochs=epochs, steps_per_epoch=steps_per_epoch, pct_start=0.25)
    t0, c0 = time.time(), time.process_time()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(y), generator=gen)
        for step in range(steps_per_epoch):
            idx = perm[step * batch_size:(step + 1) * batch_size]
            xb, yb = x[idx], y[idx]
            # Clothes are left/right symmetric enough that flips are a free augmentation.
            flip = torch.rand(len(idx), generator=gen) < 0.5
            xb[flip] = xb[flip].flip(3)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if step % log_every == 0:
                print(f"epoch {epoch + 1}/{epochs} step {step}/{steps_per_epoch} "
                      f"loss {loss.item():.4f} lr {sched.get_last_lr()[0]:.4f} "
                      f"[{time.time() - t0:.0f} s]", flush=True)
    return time.time() - t0, time.process_time() - c0


# --------------------------------------------------------------------------- output



def save_torchscript(model, path):
    """torch.jit.script in eval mode, written via a temp file + rename (atomic)."""
    model.eval()
    scripted = torch.jit.script(model)
    tmp = path + ".tmp"
    scripted.save(tmp)
    os.replace(tmp, path)
    return scripted


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def make_sidecar(pt_path, args, n_params, accuracy, train_seconds, cpu_seconds):
    name = os.path.splitext(os.path.basename(pt_path))[0]
    depth = 6 * args.blocks + 2
    return {
        "name": name,
        "file": os.path.basename(pt_path),
        "sha256": sha256_file(pt_path),
        "bytes": os.path.getsize(pt_path),
        "format": f"TorchScript (torch.jit.script, saved with torch {torch.__version__}); eval mode",
        "description": (
            f"ResNet-{depth} (CIFAR-style) for Fashion-MNIST: stem conv 3x3/16 + BN + ReLU, 3 stages of "
            f"{args.blocks} basic block(s) (16, 32, 64 channels; stages 2 and 3 stride 2 with a 1x1 "
            "stride-2 conv + BN shortcut), ReLU after each residual add, global average pool, "
            f"Linear 64->10. Convs have no bias; BatchNorm is separate. {n_params:,} parameters."),
        "source": {
            "produced_by": f"tools/train_default_model.py with seed {args.seed}",
            "dataset": "Fashion-MNIST train set (60,000 images), Debian package dataset-fashion-mnist "
                       f"({args.source})",
        },
        "license": "Fashion-MNIST: MIT (Zalando Research); model trained here",
        "training": {
            "seed": args.seed,
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "optimizer": (f"AdamW, weight decay {args.weight_decay}" if args.optimizer == "adamw" else
                          f"SGD, Nesterov momentum 0.9, weight decay {args.weight_decay}"),
            "lr_schedule": f"one-cycle (torch OneCycleLR), max lr {args.lr}, 25 % warm-up, cosine",
            "augmentation": "random horizontal flip (p = 0.5)",
            "threads": args.threads,
            "wall_seconds": round(train_seconds, 1),
            "cpu_seconds": round(cpu_seconds, 1),
            "timing_note": "wall time on a shared build machine; cpu_seconds / threads is the "
                           "wall time on idle cores",
            "torch": torch.__version__,
            "date": datetime.date.today().isoformat(),
        },
        "input": {"shape": [1, 3, 28, 28], "layout": "NCHW", "dtype": "float32",
                  "channel_order": "RGB"},
        "preprocess": {
            "resize_shorter_side": None,
            "center_crop": None,
            "interpolation": "bilinear",
            "pixel_scaling": "pixel / 255, then mean/std (grayscale images decoded as RGB: "
                             "gray value replicated to all three channels)",
            "normalization": "x = (pixel / 255 - mean) / std, per RGB channel, "
                             "pixel = 8-bit value after resize/crop",
            "mean": [MEAN] * 3,
            "std": [STD] * 3,
        },
        "output": {
            "kind": "logits (no softmax)",
            "num_classes": 10,
            "class_order_file": "classes.txt",
            "class_order": "Fashion-MNIST label index (" + ", ".join(CLASSES) + "); "
                           "classes.txt is relative to the dataset root written by "
                           "tools/make_default_dataset.py",
        },
        "accuracy_fp32": {"fashion-mnist/test": accuracy},
        "accuracy_fp32_note": "measured in Python by tools/train_default_model.py on the 10,000 "
                              "Fashion-MNIST test images with the preprocessing above, CPU float32; "
                              "top1/top5 in percent. Check with --verify DATASET_DIR (PNG read-back).",
    }


# --------------------------------------------------------------------------- verify

def load_png_split(root, split):
    """Read DIR/<split>/<class>/*.png as RGB with labels from DIR/classes.txt
    (class index = line number, not folder enumeration order)."""
    from PIL import Image

    with open(os.path.join(root, "classes.txt")) as f:
        classes = [line.strip() for line in f if line.strip()]
    images, labels = [], []
    for label, cls in enumerate(classes):
        cdir = os.path.join(root, split, cls)
        for name in sorted(os.listdir(cdir)):
            if name.endswith(".png"):
                with Image.open(os.path.join(cdir, name)) as im:
                    images.append(np.asarray(im.convert("RGB")))
                labels.append(label)
    return np.stack(images), np.asarray(labels)


def verify(pt_path, data_dir):
    """Accuracy of the saved TorchScript file on the PNG test set vs its sidecar."""
    with open(os.path.splitext(pt_path)[0] + ".json") as f:
        meta = json.load(f)
    if sha256_file(pt_path) != meta["sha256"]:
        sys.exit(f"verify: sha256 of {pt_path} does not match its sidecar")
    model = torch.jit.load(pt_path, map_location="cpu")
    rgb, labels = load_png_split(data_dir, "test")
    pre = meta["preprocess"]
    x = torch.from_numpy(rgb).permute(0, 3, 1, 2).float().div(255.0)
    x = (x - torch.tensor(pre["mean"])[:, None, None]) / torch.tensor(pre["std"])[:, None, None]
    got = evaluate(model, x.contiguous(), torch.from_numpy(labels).long())
    want = meta["accuracy_fp32"]["fashion-mnist/test"]
    print(f"verify: PNG read-back {got}; sidecar {want}")
    if got != want:
        sys.exit("verify: MISMATCH")
    print("verify: OK")


# --------------------------------------------------------------------------- main

def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Train the built-in default model (small ResNet on Fashion-MNIST, 3x28x28 RGB "
                    "input) and save it as TorchScript plus a sidecar JSON (same name, .json).",
        epilog="examples:\n"
               "  tools/train_default_model.py --out data/default/fashion_resnet.pt\n"
               "  tools/train_default_model.py --out data/default/fashion_resnet.pt "
               "--verify ~/aciq_data/fashion-mnist",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, metavar="PATH.pt", help="TorchScript file to write")
    p.add_argument("--source", default=DEFAULT_SOURCE, metavar="DIR",
                   help=f"Fashion-MNIST IDX .gz folder (default: {DEFAULT_SOURCE})")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--epochs", type=int, default=4, help="training epochs (default: 4)")
    p.add_argument("--batch-size", type=int, default=128, help="batch size (default: 128)")
    p.add_argument("--optimizer", choices=["sgd", "adamw"], default="adamw",
                   help="adamw or sgd (Nesterov momentum 0.9); default: adamw, which converged "
                        "faster in short trials")
    p.add_argument("--lr", type=float, default=0.005,
                   help="peak learning rate of the one-cycle schedule (default: 0.005)")
    p.add_argument("--weight-decay", type=float, default=0.01,
                   help="weight decay (default: 0.01, decoupled as in AdamW)")
    p.add_argument("--blocks", type=int, default=1,
                   help="basic blocks per stage (1 = ResNet-8, 2 = ResNet-14; default: 1)")
    p.add_argument("--threads", type=int, default=2,
                   help="torch CPU threads (default: 2; the build machine is shared)")
    p.add_argument("--train-limit", type=int, default=0, metavar="N",
                   help="train on the first N images only (quick trial runs; default: all)")
    p.add_argument("--verify", metavar="DATASET_DIR",
                   help="do not train: check the existing --out model on DATASET_DIR/test PNGs "
                        "(from tools/make_default_dataset.py) against its sidecar accuracy")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    out = os.path.expanduser(args.out)
    if args.verify:
        verify(out, os.path.expanduser(args.verify))
        return

    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    try:
        train_x, train_y = load_split(args.source, "train")
        test_x, test_y = load_split(args.source, "t10k")
    except (OSError, ValueError) as e:
        sys.exit(f"train_default_model: cannot read Fashion-MNIST: {e}")
    if args.train_limit:
        train_x, train_y = train_x[:args.train_limit], train_y[:args.train_limit]
    xtr, ytr = to_input(train_x), torch.from_numpy(train_y.astype(np.int64))
    xte, yte = to_input(test_x), torch.from_numpy(test_y.astype(np.int64))

    model = FashionResNet(blocks_per_stage=args.blocks)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"ResNet-{6 * args.blocks + 2}: {n_params:,} parameters, {len(ytr)} training images, "
          f"{args.threads} threads", flush=True)
    seconds, cpu_seconds = train(model, xtr, ytr, args.epochs, args.batch_size,
                                 args.optimizer, args.lr,
                    args.weight_decay, args.seed)
    print(f"training took {seconds:.1f} s wall, {cpu_seconds:.1f} s CPU", flush=True)

    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    scripted = save_torchscript(model, out)
    # Measure on the scripted module actually saved, not the eager one.
    acc = evaluate(torch.jit.load(out), xte, yte)
    print(f"test accuracy: {acc}")
    write_json(os.path.splitext(out)[0] + ".json", make_sidecar(out, args, n_params, acc, seconds, cpu_seconds))
    print(f"wrote {out} ({os.path.getsize(out)} bytes) and its sidecar .json")
    del scripted


if __name__ == "__main__":
    main()
