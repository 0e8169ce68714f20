#!/usr/bin/env python3
"""Writes TorchScript fixtures for the graph tests into OUT_DIR (argv[1]).

Torchvision architectures with random weights, stored as stride-0 views of one random number each so that
even VGG-16 saves in a few kilobytes: the tests check graph structure (sites, names, folding), not accuracy.
Plus small modules with ops quant-sim does not support. Run with an interpreter that has torch + torchvision
(/usr/bin/python3 on Debian).
"""
import os
import sys

import torch
import torchvision


def tiny_parameters(model):
    """Replaces every parameter and buffer by one random value broadcast to its shape (tiny on disk)."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            for name, param in list(module.named_parameters(recurse=False)):
                value = torch.randn(1, generator=gen) * 0.1
                setattr(module, name, torch.nn.Parameter(value.expand(param.shape), requires_grad=False))
            for name, buf in list(module.named_buffers(recurse=False)):
                if buf.dtype.is_floating_point:
                    value = torch.rand(1, generator=gen) + 0.5  # positive: valid running_var
                    module._buffers[name] = value.expand(buf.shape)
    return model


class SigmoidHead(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.act = torch.nn.Sigmoid()

    def forward(self, x):
        return torch.flatten(self.act(self.conv(x)), 1)


class Unsupported(torch.nn.Module):
    """Puts the unsupported op inside a named submodule so that the error can name its module path."""
    def __init__(self):
        super().__init__()
        self.head = SigmoidHead()
        self.fc = torch.nn.Linear(4 * 6 * 6, 3)

    def forward(self, x):
        return self.fc(self.head(x))


class MatmulNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.proj = torch.nn.Parameter(torch.randn(4 * 6 * 6, 3))

    def forward(self, x):
        return torch.matmul(torch.flatten(self.conv(x), 1), self.proj)


class TupleOutput(torch.nn.Module):
    """A valid graph whose output is not [N, classes]: the output-shape check must refuse it."""
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return torch.relu(self.conv(x))


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    models = {
        "resnet18": torchvision.models.resnet18(),
        "resnet50": torchvision.models.resnet50(),
        "vgg16_bn": torchvision.models.vgg16_bn(),
        "mobilenet_v2": torchvision.models.mobilenet_v2(),
    }
    for name, model in models.items():
        scripted = torch.jit.script(tiny_parameters(model).eval())
        scripted.save(os.path.join(out_dir, name + ".pt"))
    for name, model in {"unsupported_sigmoid": Unsupported(), "unsupported_matmul": MatmulNet(),
                        "spatial_output": TupleOutput()}.items():
        torch.jit.script(model.eval()).save(os.path.join(out_dir, name + ".pt"))


if __name__ == "__main__":
    main()
