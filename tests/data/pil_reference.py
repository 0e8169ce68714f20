"""Reference outputs for test_preprocess: PIL / torchvision 0.14 on the given images.

Usage: pil_reference.py JOBS.json
Each job: {"input", "resize", "crop", "interpolation", "mean", "std", "resized_out", "tensor_out"}.
Writes the PIL-resized uint8 RGB image (H x W x 3, raw bytes, preceded by "W H\n") to resized_out and the
torchvision evaluation tensor (float32 C x H x W, raw little-endian) to tensor_out.
"""
import json
import sys

import numpy as np
from PIL import Image


def pil_resize(img, size, interpolation):
    # torchvision 0.14 F_pil.resize with an int size: shorter side = size, longer = int(size * long / short).
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    if (new_w, new_h) == (w, h):
        return img
    return img.resize((new_w, new_h), interpolation)


def main():
    jobs = json.load(open(sys.argv[1]))
    try:
        import torch
        from torchvision import transforms
    except ImportError:
        torch = None
    for job in jobs:
        interpolation = Image.BILINEAR if job["interpolation"] == "bilinear" else Image.NEAREST
        img = Image.open(job["input"]).convert("RGB")
        resized = pil_resize(img, job["resize"], interpolation) if job["resize"] else img
        with open(job["resized_out"], "wb") as f:
            f.write(b"%d %d\n" % resized.size)
            f.write(np.asarray(resized, dtype=np.uint8).tobytes())
        if torch is None:
            continue
        steps = []
        if job["resize"]:
            mode = transforms.InterpolationMode.BILINEAR if job["interpolation"] == "bilinear" \
                else transforms.InterpolationMode.NEAREST
            steps.append(transforms.Resize(job["resize"], interpolation=mode))
        if job["crop"]:
            steps.append(transforms.CenterCrop(job["crop"]))
        steps += [transforms.ToTensor(), transforms.Normalize(job["mean"], job["std"])]
        tensor = transforms.Compose(steps)(img)
        tensor.numpy().astype("<f4").tofile(job["tensor_out"])


if __name__ == "__main__":
    main()
