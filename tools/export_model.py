#!/usr/bin/python3
"""Export a torchvision ImageNet classifier as TorchScript plus a quant-sim sidecar JSON.

    tools/export_model.py --arch resnet50 --weights resnet50-0676ba61.pth \\
        --out ~/aciq_data/models/resnet50.pt

writes resnet50.pt (torch.jit.script, falling back to torch.jit.trace if scripting
fails or its logits differ from the eager model's; eval mode) and resnet50.json next to it,
with the same keys as the shared sidecars (see shared/data/README.md). A scripted module
may return a tuple, named tuple, list or dict holding the logits: googlenet and
inception_v3 export scripted, returning GoogLeNetOutputs / InceptionOutputs (logits,
None aux logits), which quant-sim reads as it reads any such output (its first 2-D
tensor, or --output); the sidecar's "format" says so.

Preprocessing defaults to torchvision's classic ImageNet eval transform (resize shorter
side 256, center crop 224, bilinear, ImageNet mean/std). If the weights file name is
that of a torchvision release (e.g. resnet50-0676ba61.pth = IMAGENET1K_V1), that
release's own eval transform is used instead (e.g. 342/299 for inception_v3,
232/224 for resnet50 IMAGENET1K_V2); --resize/--crop/--interpolation override both.
"""

import argparse
import hashlib
import json
import os
import sys
import warnings

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


class ExportError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def classifier_names():
    """Names of the image classifiers in torchvision.models (not detection,
    segmentation, video, optical flow or quantized models, which live in submodules)."""
    import torchvision.models as tvm
    return tvm.list_models(module=tvm)


def torchvision_release(arch, weights_path, weights_sha):
    """The torchvision Weights enum entry this file is, or None. torchvision names its
    files <arch>-<first 8 hex digits of sha256>.pth, so the file name must match a
    release URL and the hash must match the name."""
    import torchvision.models as tvm
    try:
        enum = tvm.get_model_weights(arch)
    except (KeyError, ValueError):
        return None
    base = os.path.basename(weights_path)
    for w in enum:
        if os.path.basename(w.url) == base:
            prefix = os.path.splitext(base)[0].rsplit("-", 1)[-1]
            if weights_sha.startswith(prefix):
                return w
            print(f"export_model: warning: {base} is named like {w} but its sha256 does not "
                  "match the name; using default preprocessing", file=sys.stderr)
    return None


def load_state_dict(path):
    """Read a .pth state_dict; accepts the common wrappers ({'state_dict': ...},
    {'model': ...}) and strips a DataParallel 'module.' prefix."""
    import torch
    try:
        obj = torch.load(path, map_location="cpu")
    except Exception as e:  # torch.load raises many types (pickle, zip, OSError)
        raise ExportError(f"cannot read weights {path}: not a PyTorch checkpoint "
                          f"({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''})")
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(hasattr(v, "shape") for v in obj.values()):
        raise ExportError(f"cannot read weights {path}: not a state_dict of tensors")
    if obj and all(k.startswith("module.") for k in obj):
        obj = {k[len("module."):]: v for k, v in obj.items()}
    return obj


def check_keys(expected, state, arch, weights_path):
    """One-line summary of missing/unexpected parameter names (load_state_dict's own
    message lists every key, hundreds of lines for a wrong arch)."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (first: {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (first: {unexpected[0]})")
        raise ExportError(f"weights {weights_path} do not fit {arch}: " + ", ".join(parts))


def build_model(arch, weights_path, seed, num_classes=1000):
    """The torchvision model in eval mode, with weights from the .pth or seeded random ones,
    and a classifier head of num_classes outputs."""
    import torch
    import torchvision.models as tvm

    torch.manual_seed(seed)  # also makes random init reproducible
    kwargs = {"num_classes": num_classes}
    if arch in ("inception_v3", "googlenet"):
        # Their checkpoints carry the auxiliary classifiers; build them so loading is
        # strict (unused in eval mode). torchvision's released weights for these two
        # were ported from TF and expect transform_input=True (it re-maps ImageNet
        # mean/std inputs to [-1, 1]); torchvision sets it whenever it loads weights.
        kwargs.update({"aux_logits": True, "init_weights": weights_path is None,
                       "transform_input": weights_path is not None})
    model = tvm.get_model(arch, weights=None, **kwargs)
    if weights_path is not None:
        state = load_state_dict(weights_path)
        check_keys(model.state_dict(), state, arch, weights_path)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as e:  # same keys, so a shape mismatch
            detail = " ".join(line.strip() for line in str(e).strip().splitlines()[1:2])
            raise ExportError(f"weights {weights_path} do not fit {arch}: {detail[:300]}")
    return model.eval()


def first_2d_tensor(out):
    """What quant-sim takes as the logits of a forward's output (docs/QUANTIZATION.md, section 7): the tensor
    itself, or the first 2-D tensor element of a tuple, named tuple, list or dict (insertion order), searching
    nested ones after the outer level. (position text, tensor), or (None, None)."""
    import torch

    if isinstance(out, torch.Tensor):
        return "", out
    level = [("", out)]
    for _ in range(3):
        nested = []
        for where, value in level:
            if isinstance(value, dict):
                items = [(f"{where}[{k!r}]", v) for k, v in value.items()]
            elif isinstance(value, (tuple, list)):
                items = [(f"{where}[{i}]", v) for i, v in enumerate(value)]
            else:
                continue
            for item_where, item in items:
                if isinstance(item, torch.Tensor) and item.dim() == 2:
                    return item_where, item
                nested.append((item_where, item))
        level = nested
    return None, None


def describe_output(out):
    """'GoogLeNetOutputs(logits, aux_logits2, aux_logits1)', 'tuple', 'dict', ...: for the sidecar's format."""
    fields = getattr(type(out), "_fields", None)
    return f"{type(out).__name__}({', '.join(fields)})" if fields else type(out).__name__


def to_torchscript(model, input_size):
    """Script the model; trace it when scripting fails or when the scripted module's logits (the tensor it returns,
    or the first 2-D tensor element of its tuple, named tuple, list or dict, as quant-sim reads it) differ from the
    eager model's. inception_v3 and googlenet stay scripted: they return the named tuples InceptionOutputs /
    GoogLeNetOutputs (logits first, None aux logits in eval mode). Returns (module, how)."""
    import torch

    example = torch.randn(1, 3, input_size, input_size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(example)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scripted = torch.jit.script(model)
            out = scripted(example)
        where, logits = first_2d_tensor(out)
        if logits is not None and isinstance(expected, torch.Tensor) and logits.shape == expected.shape and \
                torch.allclose(logits, expected, rtol=1e-4, atol=1e-4):
            if isinstance(out, torch.Tensor):
                return scripted, "torch.jit.script"
            return scripted, (f"torch.jit.script, returning {describe_output(out)} whose first 2-D tensor "
                              f"(element {where}) is the logits quant-sim reads")
        reason = "scripted module does not return the logits tensor or a tuple, list or dict holding it"
    except Exception as e:  # TorchScript raises a zoo of exception types
        reason = f"scripting failed ({type(e).__name__}: {str(e).splitlines()[0][:200]})"
    print(f"export_model: {reason}; falling back to torch.jit.trace", file=sys.stderr)
    with torch.no_grad():
        traced = torch.jit.trace(model, example, check_trace=True)
    return traced, f"torch.jit.trace ({reason})"


def preprocess_spec(release, args):
    """Eval preprocessing: CLI override > matching torchvision release > 256/224 bilinear."""
    resize, crop, interp = 256, 224, "bilinear"
    mean, std = IMAGENET_MEAN, IMAGENET_STD
    if release is not None:
        t = release.transforms()
        resize, crop = t.resize_size[0], t.crop_size[0]
        interp = t.interpolation.value
        mean, std = list(t.mean), list(t.std)
    resize = args.resize if args.resize is not None else resize
    crop = args.crop if args.crop is not None else crop
    interp = args.interpolation or interp
    return {
        "resize_shorter_side": resize,
        "center_crop": crop,
        "interpolation": interp,
        "pixel_scaling": "pixel / 255, then ImageNet mean/std",
        "normalization": "x = (pixel / 255 - mean) / std, per RGB channel, "
                         "pixel = 8-bit value after resize/crop",
        "mean": mean,
        "std": std,
    }


def make_sidecar(args, out, how, release, weights_sha, n_params, pre):
    import torch
    import torchvision

    if args.weights is None:
        weights = f"random (seed {args.seed})"
    else:
        weights = {"path": os.path.abspath(args.weights), "sha256": weights_sha}
        if release is not None:
            weights["torchvision_release"] = str(release)
    imagenet = args.num_classes == 1000
    output = {"kind": "logits (no softmax)", "num_classes": args.num_classes}
    if imagenet:
        output["class_order_file"] = "synsets.txt"
        output["class_order"] = ("ILSVRC2012 classes sorted by wnid (torchvision class index); "
                                 "synsets.txt is relative to the dataset root")
    else:
        # No ImageNet synsets.txt for another class count: quant-sim then takes the class order of the
        # data (an image folder's sorted class folders, or --synsets).
        output["class_order"] = "that of the data (e.g. an image folder's sorted class folders)"
    sidecar = {
        "name": os.path.splitext(os.path.basename(out))[0],
        "file": os.path.basename(out),
        "sha256": sha256_file(out),
        "bytes": os.path.getsize(out),
        "format": f"TorchScript ({how}, saved with torch {torch.__version__}); eval mode",
        "description": f"torchvision.models.{args.arch} (torchvision {torchvision.__version__}), "
                       f"{'ImageNet-1k' if imagenet else f'{args.num_classes}-class'} classifier, "
                       f"{n_params:,} parameters",
        "source": {"produced_by": "tools/export_model.py", "arch": args.arch},
        "weights": weights,
        "input": {"shape": [1, 3, pre["center_crop"], pre["center_crop"]], "layout": "NCHW",
                  "dtype": "float32", "channel_order": "RGB"},
        "preprocess": pre,
        "output": output,
        # Not measured here: the C++ tool (or an evaluation script) fills this in.
        "accuracy_fp32": {},
    }
    if release is not None and "_metrics" in release.meta:
        m = release.meta["_metrics"].get("ImageNet-1K", {})
        sidecar["accuracy_published"] = {
            "imagenet-1k/val": {"images": 50000, "top1": m.get("acc@1"), "top5": m.get("acc@5")},
            "note": f"torchvision's published numbers for {release}",
        }
    return sidecar


def write_atomic(path, write):
    tmp = path + ".tmp"
    write(tmp)
    os.replace(tmp, path)


def export(args):
    import torch

    if args.arch not in classifier_names():
        raise ExportError(f"unknown arch '{args.arch}' (see --list for torchvision classifiers)")
    if args.weights is not None and not os.path.isfile(args.weights):
        raise ExportError(f"cannot read weights {args.weights}: no such file")
    if not args.out.endswith(".pt"):
        raise ExportError(f"--out must end in .pt (got {args.out})")

    weights_sha = sha256_file(args.weights) if args.weights else None
    release = torchvision_release(args.arch, args.weights, weights_sha) if args.weights else None
    pre = preprocess_spec(release, args)
    model = build_model(args.arch, args.weights, args.seed, args.num_classes)
    n_params = sum(p.numel() for p in model.parameters())
    module, how = to_torchscript(model, pre["center_crop"])

    out_dir = os.path.dirname(os.path.abspath(args.out))
    try:
        os.makedirs(out_dir, exist_ok=True)
        write_atomic(args.out, lambda p: torch.jit.save(module, p))
        sidecar = make_sidecar(args, args.out, how, release, weights_sha, n_params, pre)
        json_path = os.path.splitext(args.out)[0] + ".json"

        def dump(p):
            with open(p, "w") as f:
                json.dump(sidecar, f, indent=2)
                f.write("\n")
        write_atomic(json_path, dump)
    except OSError as e:
        raise ExportError(f"cannot write {args.out}: {e}")
    print(f"wrote {args.out} ({sidecar['bytes']} bytes, {how.split(' ')[0].rstrip(',')}) and {json_path}")


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Export a torchvision ImageNet classifier to TorchScript (eval mode) plus a "
                    "sidecar JSON (PATH.json next to PATH.pt) for quant-sim. Weights come from a "
                    "local .pth state_dict (--weights) or are random (--seed).",
        epilog="examples:\n"
               "  tools/export_model.py --arch resnet50 --weights resnet50-0676ba61.pth "
               "--out ~/aciq_data/models/resnet50.pt\n"
               "  tools/export_model.py --arch mobilenet_v2 --seed 1 --out /tmp/mnv2_random.pt\n"
               "  tools/export_model.py --list\n\n"
               "Preprocessing: resize shorter side 256, center crop 224, bilinear, ImageNet "
               "mean/std, unless the weights file is a known torchvision release (its own eval "
               "transform is used) or --resize/--crop/--interpolation say otherwise. The sidecar's "
               "class_order_file is synsets.txt (1000 wnids, sorted), relative to the dataset root; with "
               "--num-classes other than 1000 the sidecar names no class-order file.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", help="torchvision.models classifier name, e.g. resnet50, mobilenet_v2")
    p.add_argument("--weights", metavar="PATH.pth",
                   help="state_dict to load (strict); default: random weights")
    p.add_argument("--seed", type=int, default=0,
                   help="seed for random weights (default 0)")
    p.add_argument("--out", metavar="PATH.pt", help="TorchScript file to write; sidecar goes to PATH.json")
    p.add_argument("--num-classes", type=int, default=1000, metavar="N",
                   help="classifier outputs, passed to the torchvision constructor (default 1000); "
                        "recorded as the sidecar's output.num_classes")
    p.add_argument("--resize", type=int, help="override: resize shorter side to this many pixels")
    p.add_argument("--crop", type=int, help="override: center crop size (also the input size)")
    p.add_argument("--interpolation", choices=["bilinear", "bicubic", "nearest"],
                   help="override: resize interpolation")
    p.add_argument("--list", action="store_true", help="list the accepted --arch names and exit")
    args = p.parse_args(argv)
    if not args.list and (args.arch is None or args.out is None):
        p.error("--arch and --out are required")
    if args.num_classes < 1:
        p.error(f"--num-classes must be at least 1 (got {args.num_classes})")
    if args.out:
        args.out = os.path.expanduser(args.out)
    if args.weights:
        args.weights = os.path.expanduser(args.weights)
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        if args.list:
            print("\n".join(classifier_names()))
            return
        export(args)
    except ExportError as e:
        sys.exit(f"export_model: error: {e}")


if __name__ == "__main__":
    main()
