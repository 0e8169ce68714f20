#!/usr/bin/env python3
"""Writes TorchScript fixtures for the graph tests into OUT_DIR (argv[1]).

Torchvision architectures with random weights, stored as stride-0 views of one random number each so that
even VGG-16 saves in a few kilobytes: the tests check graph structure (sites, names, folding), not accuracy.
Plus small modules for the op rule: ops that run in float, and a product quant-sim refuses. Run with an interpreter that has torch + torchvision
(/usr/bin/python3 on Debian).
"""
import os
import sys
from typing import NamedTuple, Optional

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


class SigmoidNet(torch.nn.Module):
    """An activation that is not ReLU-like, inside a named submodule: it runs in float and is listed with its path."""
    def __init__(self):
        super().__init__()
        self.head = SigmoidHead()
        self.fc = torch.nn.Linear(4 * 6 * 6, 3)

    def forward(self, x):
        return self.fc(self.head(x))


class MatmulHead(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Parameter(torch.randn(4 * 6 * 6, 3))

    def forward(self, x):
        return torch.matmul(torch.flatten(x, 1), self.proj)


class ActivationMatmul(torch.nn.Module):
    def forward(self, x):
        flat = torch.flatten(x, 1)
        return torch.matmul(flat, flat.t())


class ActivationMatmulNet(torch.nn.Module):
    """A product of two activations (no weight): refused, naming the module."""
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.head = ActivationMatmul()

    def forward(self, x):
        return self.head(self.conv(x))


class MatmulNet(torch.nn.Module):
    """A weight multiplied by matmul, not by a linear: a quantized layer named after its module."""
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.head = MatmulHead()

    def forward(self, x):
        return self.head(self.conv(x))


class PreActivationNet(torch.nn.Module):
    """BatchNorm -> ReLU -> conv (a pre-activation block): the BatchNorm follows no conv, so it stays a float op."""
    def __init__(self):
        super().__init__()
        self.conv0 = torch.nn.Conv2d(3, 4, 3)
        self.bn = torch.nn.BatchNorm2d(4)
        self.conv1 = torch.nn.Conv2d(4, 5, 3)
        with torch.no_grad():
            self.bn.running_mean.uniform_(-0.5, 0.5)
            self.bn.running_var.uniform_(0.5, 2.0)

    def forward(self, x):
        y = self.conv0(x)
        return torch.flatten(self.conv1(torch.relu(self.bn(y + 1.0))), 1).mean(1, keepdim=True).repeat(1, 3)


class TupleOutput(torch.nn.Module):
    """A valid graph whose output is not [N, classes]: the output-shape check must refuse it."""
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return torch.relu(self.conv(x))


class Outputs(NamedTuple):
    features: torch.Tensor
    logits: torch.Tensor
    aux: Optional[torch.Tensor]


class NamedTupleOutput(torch.nn.Module):
    """Returns a named tuple as googlenet/inception_v3 do when scripted: a 4-D features field before the logits, and
    an auxiliary field that is None in eval mode."""
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.fc = torch.nn.Linear(4, 5)

    def forward(self, x) -> Outputs:
        features = torch.relu(self.conv(x))
        logits = self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(features, 1), 1))
        aux: Optional[torch.Tensor] = None
        if self.training:
            aux = logits * 2
        return Outputs(features, logits, aux)


class ConvBnBlock(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(8)
        self.conv2 = torch.nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(8)

    def forward(self, x):
        return torch.relu(x + self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))


class ConvBnNet(torch.nn.Module):
    """Conv-BN pairs in a residual block with ordinary (not broadcast) random weights and BN statistics: preparing
    it without folding must not change a bit of its output."""
    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.block = ConvBnBlock()
        self.fc = torch.nn.Linear(8, 5)
        with torch.no_grad():
            for bn in (self.block.bn1, self.block.bn2):
                bn.running_mean.uniform_(-0.5, 0.5)
                bn.running_var.uniform_(0.5, 2.0)
                bn.weight.uniform_(0.5, 1.5)
                bn.bias.uniform_(-0.2, 0.2)

    def forward(self, x):
        return self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(self.block(self.stem(x)), 1), 1))


class TokenLinearNet(torch.nn.Module):
    """A linear over the features of [N, tokens, C] (ConvNeXt-style): axis 1 of its tensors is not a channel axis."""
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 6, 3)
        self.mlp = torch.nn.Linear(6, 6)
        self.fc = torch.nn.Linear(6, 4)

    def forward(self, x):
        tokens = torch.flatten(self.conv(x), 2).transpose(1, 2)
        return self.fc(torch.nn.functional.gelu(self.mlp(tokens)).mean(1))


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    models = {
        "resnet18": torchvision.models.resnet18(),
        "resnet50": torchvision.models.resnet50(),
        "vgg16_bn": torchvision.models.vgg16_bn(),
        "mobilenet_v2": torchvision.models.mobilenet_v2(),
        # Scripted, returns GoogLeNetOutputs(logits, aux_logits2, aux_logits1), the aux entries None in eval mode.
        "googlenet": torchvision.models.googlenet(aux_logits=True, init_weights=False),
    }
    for name, model in models.items():
        scripted = torch.jit.script(tiny_parameters(model).eval())
        scripted.save(os.path.join(out_dir, name + ".pt"))
    for name, model in {"sigmoid_net": SigmoidNet(), "weight_matmul": MatmulNet(),
                        "activation_matmul": ActivationMatmulNet(), "pre_activation": PreActivationNet(),
                        "conv_bn_net": ConvBnNet(),
                        "token_linear": TokenLinearNet(),
                        "spatial_output": TupleOutput(), "named_tuple_output": NamedTupleOutput()}.items():
        torch.jit.script(model.eval()).save(os.path.join(out_dir, name + ".pt"))


if __name__ == "__main__":
    main()
