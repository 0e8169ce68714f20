#!/usr/bin/python3
"""Write quant-sim's built-in default dataset (Fashion-MNIST) as PNG ImageFolders.

Source: Debian's `dataset-fashion-mnist` package (the original IDX files in
/usr/share/datasets/fashion-mnist). Output layout under --out DIR:

    DIR/classes.txt                  class folder names in label order (index = line number)
    DIR/test/<class>/<NNNNN>.png     all 10,000 test images; NNNNN = index in the test set
    DIR/calib/<class>/<NNNNN>.png    1,000 train images, the first 100 of each class in
                                     train order; NNNNN = index in the train set

Images are 8-bit grayscale 28x28 PNGs (lossless, so pixel values equal the IDX
bytes). File names are zero-padded so a bytewise sort gives the original order.
The script is idempotent: a split that is already complete is left alone.
"""

import argparse
import gzip
import os
import struct
import sys
import tempfile

import numpy as np

DEFAULT_SOURCE = "/usr/share/datasets/fashion-mnist"

# Fashion-MNIST label order (labels 0..9), made filesystem-friendly.
CLASSES = [
    "t-shirt_top", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle_boot",
]

CALIB_PER_CLASS = 100


def read_idx(path):
    """Read a (gzipped) IDX file into a uint8 numpy array of its stated shape."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    shape = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(shape)):
        raise ValueError(f"{path}: truncated (expected {int(np.prod(shape))} bytes of data)")
    return arr.reshape(shape)


def load_split(source, prefix):
    """Return (images [N,28,28] uint8, labels [N] uint8) for 'train' or 't10k'."""
    images = read_idx(os.path.join(source, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(source, f"{prefix}-labels-idx1-ubyte.gz"))
    if len(images) != len(labels):
        raise ValueError(f"{prefix}: {len(images)} images but {len(labels)} labels")
    return images, labels


def calib_indices(labels, per_class):
    """Indices of the first `per_class` images of each class, in original order."""
    picked = []
    for c in range(len(CLASSES)):
        idx = np.flatnonzero(labels == c)[:per_class]
        if len(idx) < per_class:
            raise ValueError(f"class {CLASSES[c]} has only {len(idx)} images")
        picked.extend(idx.tolist())
    return sorted(picked)


def expected_files(labels, indices):
    """Relative paths '<class>/<NNNNN>.png' the split should contain."""
    return {f"{CLASSES[labels[i]]}/{i:05d}.png" for i in indices}


def existing_files(split_dir):
    found = set()
    if os.path.isdir(split_dir):
        for cls in os.listdir(split_dir):
            cdir = os.path.join(split_dir, cls)
            if os.path.isdir(cdir):
                found.update(f"{cls}/{n}" for n in os.listdir(cdir) if n.endswith(".png"))
    return found


def write_split(split_dir, images, labels, indices):
    """Write the PNGs of one split. Each file goes through a temp name and an
    atomic rename, so an interrupted run never leaves a half-written PNG that
    the completeness check would accept."""
    from PIL import Image  # python3-pil; imported here so --help works without it

    for cls in CLASSES:
        os.makedirs(os.path.join(split_dir, cls), exist_ok=True)
    for i in indices:
        path = os.path.join(split_dir, CLASSES[labels[i]], f"{i:05d}.png")
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            Image.fromarray(images[i], mode="L").save(f, format="PNG")
        os.replace(tmp, path)


def make_split(out, name, images, labels, indices, force):
    split_dir = os.path.join(out, name)
    want = expected_files(labels, indices)
    have = existing_files(split_dir)
    if not force and want <= have:
        extra = len(have - want)
        note = f" ({extra} unexpected extra files left alone)" if extra else ""
        print(f"{name}: complete, {len(want)} images, skipped{note}")
        return
    write_split(split_dir, images, labels, indices)
    print(f"{name}: wrote {len(indices)} images to {split_dir}")


def write_classes(out):
    path = os.path.join(out, "classes.txt")
    text = "".join(c + "\n" for c in CLASSES)
    if os.path.exists(path):
        with open(path) as f:
            if f.read() == text:
                return
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Write the Fashion-MNIST test set (10,000 images) and a 1,000-image "
                    "calibration set (first 100 train images per class) as 8-bit grayscale "
                    "PNG ImageFolders plus classes.txt. Idempotent: complete splits are skipped.",
        epilog="example: tools/make_default_dataset.py --out ~/aciq_data/fashion-mnist")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="dataset root to create (DIR/test, DIR/calib, DIR/classes.txt)")
    p.add_argument("--source", default=DEFAULT_SOURCE, metavar="DIR",
                   help="folder with the Fashion-MNIST IDX .gz files "
                        f"(default: {DEFAULT_SOURCE}, Debian package dataset-fashion-mnist)")
    p.add_argument("--force", action="store_true",
                   help="rewrite all images even if the splits look complete")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    out = os.path.expanduser(args.out)
    try:
        test_x, test_y = load_split(args.source, "t10k")
        train_x, train_y = load_split(args.source, "train")
    except (OSError, ValueError) as e:
        sys.exit(f"make_default_dataset: cannot read Fashion-MNIST: {e} "
                 "(install Debian package dataset-fashion-mnist or pass --source)")
    try:
        os.makedirs(out, exist_ok=True)
        write_classes(out)
        make_split(out, "test", test_x, test_y, range(len(test_y)), args.force)
        make_split(out, "calib", train_x, train_y,
                   calib_indices(train_y, CALIB_PER_CLASS), args.force)
    except ImportError:
        sys.exit("make_default_dataset: PIL not found (install Debian package python3-pil)")
    except OSError as e:
        sys.exit(f"make_default_dataset: cannot write {out}: {e}")


if __name__ == "__main__":
    main()
