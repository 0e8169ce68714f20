#!/usr/bin/python3
"""Build a quant-sim image cache (docs/CACHE.md) with Pillow and torchvision, as `quant-sim cache build` does in C++.

    /usr/bin/python3 tools/build_cache.py --data DIR --model MODEL.pt --out FILE [--subset N]
    /usr/bin/python3 tools/build_cache.py --data DIR --resize 256 --crop 224 --out FILE

The images are listed as quant-sim lists them (ImageFolder <root>/<class>/<image> with the class order of the
model sidecar's output.class_order_file, else synsets.txt beside the data, else the sorted folder names; or a flat
folder with val.txt), decoded with PIL.Image.open(path).convert("RGB"), then torchvision's Resize(shorter side) and
CenterCrop as the reference evaluation does, and stored as uint8 CHW. `quant-sim --data FILE` reads the result like
a cache of its own; its pixels equal the C++ build's (tests/app/test_image_cache_cli.cpp checks it on real images).
Useful where quant-sim was built without OpenCV (it cannot decode images there).
"""
import argparse
import hashlib
import json
import os
import struct
import sys
import tempfile
import time
from multiprocessing import Pool

import numpy as np
from PIL import Image
from torchvision import transforms

MAGIC = b"QSIMCACH"
VERSION = 1
HEADER_BYTES = 4096
ALIGNMENT = 4096
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".webp", ".tif", ".tiff"}


def fail(message):
    print(f"build_cache.py: error: {message}", file=sys.stderr)
    sys.exit(2)


def absolute(path):
    return os.path.normpath(os.path.abspath(path)) if path else ""


def read_class_order(path):
    names = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    while lines and not lines[-1].strip(" \t\r"):
        lines.pop()
    for number, line in enumerate(lines, 1):
        tokens = line.split()
        if not tokens:
            fail(f"{path}:{number}: blank line inside the class list")
        if tokens[0] in names:
            fail(f"{path}:{number}: class '{tokens[0]}' is listed twice")
        names.append(tokens[0])
    return names


def resolve_class_order_file(name, anchors):
    """model_sidecar.cpp's resolve_class_order_file: relative names are tried in each anchor and its parents."""
    if not name:
        return ""
    if os.path.isabs(name):
        return name if os.path.isfile(name) else ""
    for anchor in anchors:
        if not anchor:
            continue
        folder = absolute(anchor)
        while True:
            candidate = os.path.join(folder, name)
            if os.path.isfile(candidate):
                return candidate
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent
    return ""


def sidecar_preprocess(model):
    """(resize, crop, interpolation, class_order_file name) from <model>.json; torchvision defaults without one."""
    resize, crop, interpolation, class_order = 256, 224, "bilinear", ""
    sidecar = os.path.splitext(model)[0] + ".json" if model else ""
    if sidecar and os.path.isfile(sidecar):
        with open(sidecar, encoding="utf-8") as f:
            data = json.load(f)
        pre = data.get("preprocess") or {}
        if "resize_shorter_side" in pre:
            resize = pre["resize_shorter_side"] or 0
        if "center_crop" in pre:
            crop = pre["center_crop"] or 0
        if pre.get("interpolation"):
            interpolation = pre["interpolation"]
        class_order = (data.get("output") or {}).get("class_order_file") or ""
    return resize, crop, interpolation, class_order


def is_hidden(name):
    return name.startswith(".")


def load_dataset(data_arg, class_order_file):
    """dataset.cpp's load_dataset for the ImageFolder and val.txt layouts: (root, layout, order file, names, images)."""
    root = os.path.join(data_arg, "val") if os.path.isdir(os.path.join(data_arg, "val")) else data_arg
    if not os.path.isdir(root):
        fail(f"{root}: data folder does not exist")
    images_abs = absolute(root)
    lookup = [root, data_arg, os.path.dirname(images_abs)]
    if not class_order_file:
        for folder in lookup:
            candidate = os.path.join(folder, "synsets.txt")
            if folder and os.path.exists(candidate) and not os.path.isdir(candidate):
                class_order_file = candidate
                break
    names = read_class_order(class_order_file) if class_order_file else []
    entries = os.listdir(root)
    folders = sorted((e for e in entries if os.path.isdir(os.path.join(root, e)) and not is_hidden(e)),
                     key=lambda s: s.encode())
    images = []
    if folders:
        layout = "image-folder"
        if not names:
            names = folders
        index = {name: i for i, name in enumerate(names)}
        labelled = []
        for folder in folders:
            if folder not in index:
                fail(f"{os.path.join(root, folder)}: class folder '{folder}' is not listed in the class-order file")
            labelled.append((index[folder], folder))
        for label, folder in sorted(labelled):
            files = sorted((f for f in os.listdir(os.path.join(root, folder))
                            if not is_hidden(f) and os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS
                            and not os.path.isdir(os.path.join(root, folder, f))), key=lambda s: s.encode())
            images += [(os.path.join(root, folder, f), label) for f in files]
    else:
        val_txt = next((os.path.join(f, "val.txt") for f in lookup if f and os.path.isfile(os.path.join(f, "val.txt"))),
                       "")
        if not val_txt:
            fail(f"{root}: no class folders and no val.txt (this tool reads the ImageFolder and val.txt layouts; "
                 "quant-sim cache build reads LOC_val_solution.csv too)")
        layout = "val.txt"
        seen = {}
        with open(val_txt, encoding="utf-8") as f:
            for line in f:
                tokens = line.split()
                if len(tokens) != 2 or tokens[0] in seen:
                    continue
                seen[tokens[0]] = int(tokens[1])
                if os.path.isfile(os.path.join(root, tokens[0])):
                    images.append((os.path.join(root, tokens[0]), int(tokens[1])))
    if not images:
        fail(f"{root}: no images found")
    return root, layout, class_order_file, names, images


def make_transform(resize, crop, interpolation):
    mode = {"bilinear": transforms.InterpolationMode.BILINEAR,
            "nearest": transforms.InterpolationMode.NEAREST}[interpolation]
    steps = []
    if resize > 0:
        steps.append(transforms.Resize(resize, interpolation=mode))
    if crop > 0:
        steps.append(transforms.CenterCrop(crop))
    return transforms.Compose(steps)


_TRANSFORM = None


def _init_worker(resize, crop, interpolation):
    global _TRANSFORM
    _TRANSFORM = make_transform(resize, crop, interpolation)


def _decode(path):
    """uint8 CHW bytes and (height, width), or (None, reason) for a file PIL cannot decode."""
    try:
        with Image.open(path) as image:
            picture = _TRANSFORM(image.convert("RGB"))
    except Exception as e:  # noqa: BLE001 - any decoding failure is a bad image, as in the C++ loader
        return None, f"{path}: {e}"
    pixels = np.asarray(picture, dtype=np.uint8)  # H, W, 3
    return np.ascontiguousarray(pixels.transpose(2, 0, 1)).tobytes(), pixels.shape[:2]


def sha256_hex(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="image folder (uses DIR/val when it exists)")
    parser.add_argument("--model", help="model file whose sidecar <model>.json gives the preprocessing")
    parser.add_argument("--resize", type=int, help="shorter side (0: none); overrides the sidecar")
    parser.add_argument("--crop", type=int, help="center crop (0: none); overrides the sidecar")
    parser.add_argument("--interpolation", choices=["bilinear", "nearest"], help="overrides the sidecar")
    parser.add_argument("--synsets", help="class-order file (overrides the sidecar's)")
    parser.add_argument("--subset", "-ss", type=int, help="cache the first N images only")
    parser.add_argument("--workers", "-j", type=int, default=os.cpu_count() or 1, help="decoding processes")
    parser.add_argument("--out", required=True, help="cache file to write (atomically)")
    args = parser.parse_args()

    start = time.time()
    resize, crop, interpolation, sidecar_order = sidecar_preprocess(args.model)
    resize = resize if args.resize is None else args.resize
    crop = crop if args.crop is None else args.crop
    interpolation = args.interpolation or interpolation
    class_order = args.synsets or ""
    if not class_order and sidecar_order:
        class_order = resolve_class_order_file(sidecar_order, [args.data, os.path.dirname(absolute(args.model))])
        if not class_order:
            fail(f"output.class_order_file '{sidecar_order}' of the model's sidecar not found; give --synsets")
    root, layout, class_order, names, dataset = load_dataset(args.data, class_order)
    root_abs = absolute(root)
    if args.subset is not None and args.subset < 1:
        fail("--subset must be at least 1")
    partial = args.subset is not None and args.subset < len(dataset)
    images = dataset[:args.subset] if partial else dataset

    sources = []
    for path, label in dataset:
        st = os.stat(path)
        sources.append([os.path.relpath(absolute(path), root_abs), label, st.st_size, st.st_mtime_ns])
    fingerprint_text = f"quant-sim image cache sources\n{root_abs}\n{layout}\n" + "".join(
        f"{rel}\t{label}\t{size}\t{mtime}\n" for rel, label, size, mtime in sources)
    count = len(images)
    flags_offset = HEADER_BYTES + 8 * count
    pixels_offset = (flags_offset + count + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT

    out = absolute(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=os.path.basename(out) + ".tmp.", dir=os.path.dirname(out))
    try:
        with os.fdopen(fd, "wb") as f:
            f.seek(HEADER_BYTES)
            f.write(np.asarray([label for _, label in images], dtype="<i8").tobytes())
            f.seek(pixels_offset)
            bad, size, image_bytes = [], None, 0
            with Pool(max(1, args.workers), _init_worker, (resize, crop, interpolation)) as pool:
                for index, (pixels, info) in enumerate(pool.imap(_decode, [p for p, _ in images], chunksize=16)):
                    if pixels is None:
                        bad.append({"index": index, "reason": info})
                        continue
                    if size is None:
                        size, image_bytes = info, len(pixels)
                    elif info != size:
                        fail(f"{images[index][0]}: preprocessed size {info[1]}x{info[0]} differs from "
                             f"{size[1]}x{size[0]}; a cache holds one size: set --crop")
                    f.seek(pixels_offset + index * image_bytes)
                    f.write(pixels)
            if size is None:
                fail(f"{root}: no image could be decoded")
            flags = bytearray(count)
            for entry in bad:
                flags[entry["index"]] = 1
            f.seek(flags_offset)
            f.write(bytes(flags))
            metadata = {
                "format": "quant-sim image cache",
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "built_by": "tools/build_cache.py",
                "data_root": root_abs,
                "data_arg": absolute(args.data),
                "layout": layout,
                "class_order_file": absolute(class_order),
                "class_names": names,
                "preprocess": {"resize": resize, "crop": crop, "interpolation": interpolation},
                "selection": {"dataset_images": len(dataset), "subset": args.subset if partial else None,
                              "shuffle": False, "seed": 0},
                "images": [os.path.relpath(absolute(p), root_abs) for p, _ in images],
                "bad_images": bad,
                "sources": sources,
            }
            text = json.dumps(metadata, separators=(",", ":")).encode("utf-8")
            metadata_offset = pixels_offset + count * image_bytes
            f.seek(metadata_offset)
            f.write(text)
            header = MAGIC + struct.pack("<IIQIIIIQQQQQ", VERSION, 0, count, 3, size[0], size[1], 0, HEADER_BYTES,
                                         flags_offset, pixels_offset, metadata_offset, len(text))
            header += sha256_hex(fingerprint_text).encode() + sha256_hex(
                f"resize={resize};crop={crop};interpolation={interpolation}").encode()
            assert len(header) == 208
            f.seek(0)
            f.write(header)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, out)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    seconds = time.time() - start
    print(f"cached {count} images of {size[1]}x{size[0]} from {root_abs} in {seconds:.1f} s: {args.out}, "
          f"{(metadata_offset + len(text)) / 1e9:.2f} GB" + (f" ({len(bad)} could not be decoded)" if bad else ""))


if __name__ == "__main__":
    main()
