"""Exports small VGG- and LeNet-style PyTorch models to ONNX for convc import's tests.

Usage: /usr/bin/python3 torch_models.py OUTDIR

For each model it writes OUTDIR/<name>/model.onnx (torch.onnx.export), the
input batch (input.bin) and PyTorch's outputs in eval mode (output.bin), both
raw little-endian float32 in PyTorch's layout (NCHW for images), and lists
them in OUTDIR/manifest.json with their shapes. Every model is built from a
fixed seed, so the files are the same on every run. The Go test
(internal/onnx/e2e_test.go) imports each model, runs the generated Go code on
the input and compares with the outputs.

The variants cover what PyTorch writes for these networks: padding 0 and 1 on
odd and even inputs with strides 1 and 2 (padding=1 with stride 2 on an even
input is the case Keras's "same" cannot express), rectangular kernels and
inputs, MaxPool with padding and ceil_mode, AvgPool with count_include_pad
True and False, Linear and Conv2d without bias, ReLU, Sigmoid and Tanh, a
final Softmax or Sigmoid, torch.flatten(x, 1), x.view(x.size(0), -1) and
x.view(-1, n), Dropout in eval mode, input scaling x * 0.5 + 0.1, opsets 13
and 11, a fixed and a dynamic batch dimension. The models listed with
expect "refuse" use what convc's language cannot express (dilation, groups):
the importer must refuse them with a message.
"""

import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import onnx

BATCH = 5


class LeNet(nn.Module):
    """LeNet-5 as tutorials write it today: ReLU, MaxPool, padding=2 on 28x28."""

    def __init__(self, flatten="flatten", act=nn.ReLU, pool=nn.MaxPool2d, softmax=False, pad=2):
        super().__init__()
        self.flatten = flatten
        self.conv1 = nn.Conv2d(1, 6, 5, padding=pad)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.pool = pool(2)
        self.act = act()
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)
        self.softmax = softmax

    def forward(self, x):
        x = self.pool(self.act(self.conv1(x)))
        x = self.pool(self.act(self.conv2(x)))
        if self.flatten == "flatten":
            x = torch.flatten(x, 1)
        elif self.flatten == "view_size":
            x = x.view(x.size(0), -1)
        else:
            x = x.view(-1, 16 * 5 * 5)
        x = self.act(self.fc1(x))
        x = self.act(self.fc2(x))
        x = self.fc3(x)
        if self.softmax:
            x = torch.softmax(x, dim=1)
        return x


class VGG(nn.Module):
    """A small VGG: blocks of 3x3 convolutions with padding=1 and 2x2 max pooling,
    then a classifier with Dropout and a final Softmax."""

    def __init__(self, cfg=(16, 16, "M", 32, 32, "M"), size=32, flatten="flatten", scale=False):
        super().__init__()
        layers, c = [], 3
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
                size //= 2
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=True)]
                c = v
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Linear(c * size * size, 64), nn.ReLU(True), nn.Dropout(0.5),
            nn.Linear(64, 32), nn.ReLU(True), nn.Dropout(0.5),
            nn.Linear(32, 10))
        self.flatten = flatten
        self.scale = scale

    def forward(self, x):
        if self.scale:
            x = x * 0.5 + 0.1
        x = self.features(x)
        if self.flatten == "flatten":
            x = torch.flatten(x, 1)
        else:
            x = x.view(x.size(0), -1)
        return torch.softmax(self.classifier(x), dim=1)


class Seq(nn.Module):
    """A Sequential of convolutional layers, then Flatten and a head."""

    def __init__(self, convs, head, scale=False):
        super().__init__()
        self.convs = nn.Sequential(*convs)
        self.head = nn.Sequential(*head)
        self.scale = scale

    def forward(self, x):
        if self.scale:
            x = x * 0.5 + 0.1
        return self.head(torch.flatten(self.convs(x), 1))


def with_stats(model):
    """Gives every BatchNorm layer random statistics, scale and shift, as
    training would, so that folding them is not the identity."""
    for mod in model.modules():
        if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = mod.num_features
            mod.running_mean.copy_(torch.rand(n) - 0.5)
            mod.running_var.copy_(torch.rand(n) + 0.5)
            mod.weight.data.copy_(torch.rand(n) + 0.5)
            mod.bias.data.copy_(torch.rand(n) - 0.5)
    return model


def bn_net(pool):
    return with_stats(nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        pool, nn.Flatten(),
        nn.Linear(16, 12), nn.BatchNorm1d(12), nn.ReLU(),
        nn.Linear(12, 5)))


class Reduced(nn.Module):
    """Convolutions, then the spatial mean or maximum taken with
    x.mean((2, 3)) or x.amax((2, 3)) (ReduceMean, ReduceMax), or a global
    pool whose 1x1 output is squeezed (Squeeze of axes 2 and 3)."""

    def __init__(self, how):
        super().__init__()
        self.how = how
        self.convs = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 6, 3), nn.Tanh())
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        x = self.convs(x)
        if self.how == "mean":
            x = x.mean((2, 3))
        elif self.how == "amax":
            x = x.amax((2, 3))
        else:
            x = nn.functional.adaptive_avg_pool2d(x, 1).squeeze(3).squeeze(2) if self.how == "squeeze_each" else nn.functional.adaptive_avg_pool2d(x, 1).squeeze()
        return self.fc(x)


def models():
    """Returns (name, model, per-sample input shape, opset, dynamic batch,
    Dropout nodes put back, expect, about, torch.onnx.export's extra
    arguments)."""
    m = []

    def add(name, make, shape, opset=13, dynamic=True, dropout=False, expect="ok", about="", export=None):
        torch.manual_seed(sum(map(ord, name)))
        m.append((name, make(), shape, opset, dynamic, dropout, expect, about, export or {}))

    add("reduce_mean", lambda: Reduced("mean"), (3, 10, 12),
        about="x.mean((2, 3)) after the convolutions: ReduceMean over height and width, keepdims=0")
    add("reduce_amax", lambda: Reduced("amax"), (3, 10, 12),
        about="x.amax((2, 3)): ReduceMax over height and width, after a Tanh it commutes with")
    add("squeeze", lambda: Reduced("squeeze"), (3, 10, 12), dynamic=False,
        about="adaptive_avg_pool2d(x, 1).squeeze() with a fixed batch: Squeeze of the 1x1 image")
    add("bn_gap", lambda: bn_net(nn.AdaptiveAvgPool2d(1)), (3, 16, 16),
        about="BatchNorm2d (which the eval-mode export fuses into the Conv), AdaptiveAvgPool2d(1) as GlobalAveragePool, and BatchNorm1d after a Linear, left as a BatchNormalization node")
    add("bn_nodes_gmp", lambda: bn_net(nn.AdaptiveMaxPool2d(1)), (3, 16, 16),
        export={"training": torch.onnx.TrainingMode.PRESERVE},
        about="the same network with every BatchNormalization left as a node (TrainingMode.PRESERVE of an eval-mode model), one after a Conv without bias, and AdaptiveMaxPool2d(1) as GlobalMaxPool")

    add("lenet", lambda: LeNet(), (1, 28, 28),
        about="LeNet-5: Conv padding=2, ReLU, MaxPool2d(2), torch.flatten(x, 1), three Linear")
    add("lenet_tanh_avg_view", lambda: LeNet("view_size", nn.Tanh, nn.AvgPool2d, pad=0), (1, 32, 32), dynamic=False,
        about="LeNet-5 as LeCun drew it: 32x32, padding=0, Tanh, AvgPool2d(2), x.view(x.size(0), -1)")
    add("lenet_sigmoid_softmax_opset11", lambda: LeNet("view_const", nn.Sigmoid, softmax=True), (1, 28, 28), opset=11,
        about="opset 11: Sigmoid, x.view(-1, 400), a final Softmax(dim=1)")
    add("vgg", lambda: VGG(), (3, 32, 32),
        about="VGG blocks (Conv 3x3 padding=1, ReLU, MaxPool 2), Linear, Dropout(0.5), Softmax")
    add("vgg_view_scaled", lambda: VGG(flatten="view", scale=True), (3, 32, 32),
        about="VGG with x * 0.5 + 0.1 first and x.view(x.size(0), -1) (Shape, Gather, Unsqueeze, Concat, Reshape with a dynamic batch)")
    add("vgg_dropout", lambda: VGG(cfg=(8, "M", 16, "M")), (3, 32, 32), dropout=True,
        about="VGG with the Dropout nodes put back (opset 13: ratio input, training_mode absent)")
    add("vgg_opset11", lambda: VGG(cfg=(8, "M", 16, 16, "M", 16, "M"), size=24), (3, 24, 24), opset=11, dropout=True,
        about="opset 11 (Dropout's ratio attribute, Softmax's 2-D rule), three blocks on 24x24, Dropout nodes put back")
    add("pad1_stride2_odd", lambda: Seq(
        [nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
         nn.Conv2d(8, 8, 3, stride=2, padding=0), nn.Tanh(),
         nn.Conv2d(8, 4, 3, stride=1, padding=1), nn.ReLU()],
        [nn.Linear(4 * 3 * 3, 10)]), (3, 15, 15),
        about="padding=1 stride 2 on 15x15, padding=0 stride 2 on 8x8, padding=1 stride 1 on 3x3")
    add("pad1_stride2_even", lambda: Seq(
        [nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
         nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU(),
         nn.Conv2d(8, 8, 5, stride=1, padding=2), nn.Sigmoid(),
         nn.Conv2d(8, 4, 3, stride=2, padding=0)],
        [nn.Linear(4 * 1 * 1, 6), nn.Sigmoid()]), (3, 16, 16),
        about="padding=1 stride 2 on 16x16 and 8x8 (not Keras's \"same\"), 5x5 padding=2, a final Sigmoid")
    add("rect_nobias", lambda: Seq(
        [nn.Conv2d(2, 4, (3, 5), padding=(1, 2)), nn.ReLU(),
         nn.Conv2d(4, 6, (1, 3), stride=(2, 1), padding=(0, 1), bias=False), nn.Tanh(),
         nn.Conv2d(6, 3, 1, bias=False)],
        [nn.Linear(3 * 10 * 24, 7, bias=False)]), (2, 20, 24),
        about="a 20x24 input, kernels (3, 5) and (1, 3), strides (2, 1), padding (1, 2) and (0, 1), Conv2d and Linear without bias")
    add("maxpool_pad_ceil", lambda: Seq(
        [nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
         nn.MaxPool2d(3, stride=2, padding=1),
         nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
         nn.MaxPool2d(2, ceil_mode=True),
         nn.Conv2d(8, 4, 1), nn.ReLU(),
         nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)],
        [nn.Linear(4 * 3 * 3, 5)]), (3, 17, 17),
        about="MaxPool2d(3, 2, padding=1) on 17x17, MaxPool2d(2, ceil_mode=True) on 9x9, MaxPool2d(3, 2, padding=1, ceil_mode=True) on 5x5")
    add("avgpool_include_pad", lambda: Seq(
        [nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
         nn.AvgPool2d(3, stride=2, padding=1),
         nn.Conv2d(8, 4, 3), nn.ReLU(),
         nn.AvgPool2d(2, stride=1, padding=1)],
        [nn.Linear(4 * 7 * 7, 5)]), (3, 16, 16),
        about="AvgPool2d with padding and count_include_pad=True (PyTorch's default)")
    add("avgpool_exclude_pad", lambda: Seq(
        [nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
         nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
         nn.Conv2d(8, 4, 2), nn.ReLU(),
         nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False)],
        [nn.Linear(4 * 4 * 4, 5)]), (3, 15, 15),
        about="AvgPool2d(3, 2, padding=1, count_include_pad=False) on 15x15, AvgPool2d(2, ceil_mode=True) on 7x7")
    add("mlp", lambda: nn.Sequential(
        nn.Linear(20, 16, bias=False), nn.Tanh(),
        nn.Linear(16, 8), nn.ReLU(),
        nn.Linear(8, 3), nn.Sigmoid()), (20,),
        about="a vector input: Linear without and with bias, Tanh, ReLU, a final Sigmoid")
    add("dilated_conv", lambda: Seq(
        [nn.Conv2d(3, 4, 3, dilation=2), nn.ReLU()],
        [nn.Linear(4 * 8 * 8, 3)]), (3, 12, 12), expect="refuse",
        about="a dilated convolution, which convc's Conv2D does not have")
    add("grouped_conv", lambda: Seq(
        [nn.Conv2d(4, 4, 3, groups=2), nn.ReLU()],
        [nn.Linear(4 * 6 * 6, 3)]), (4, 8, 8), expect="refuse",
        about="a grouped convolution, which convc's Conv2D does not have")
    return m


def put_back_dropout(path, opset):
    """Puts an inference Dropout before every Gemm but the first.

    torch.onnx.export drops Dropout in eval mode, but other exporters keep it
    (as Keras models have it): at opset 12 and later with a ratio input and
    no training_mode (which means inference), before with a ratio attribute.
    """
    m = onnx.load(path)
    g = m.graph
    gemms = [n for n in g.node if n.op_type == "Gemm"][1:]
    for i, gemm in enumerate(gemms):
        x, y = gemm.input[0], "dropout_%d_out" % i
        if opset >= 12:
            ratio = "dropout_%d_ratio" % i
            g.initializer.append(onnx.helper.make_tensor(ratio, onnx.TensorProto.FLOAT, [], [0.5]))
            node = onnx.helper.make_node("Dropout", [x, ratio], [y], name="dropout_%d" % i)
        else:
            node = onnx.helper.make_node("Dropout", [x], [y], name="dropout_%d" % i, ratio=0.5)
        gemm.input[0] = y
        g.node.insert(list(g.node).index(gemm), node)
    onnx.save(m, path)


def main():
    out = sys.argv[1]
    manifest = []
    for name, model, shape, opset, dynamic, dropout, expect, about, export in models():
        model.eval()
        g = torch.Generator().manual_seed(sum(map(ord, name)) + 1)
        x = torch.rand((BATCH,) + shape, generator=g) * 2 - 1
        with torch.no_grad():
            y = model(x)
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "model.onnx")
        kw = dict(export)
        if dynamic:
            kw["dynamic_axes"] = {"input": {0: "batch"}, "output": {0: "batch"}}
        torch.onnx.export(model, x, path, opset_version=opset, input_names=["input"], output_names=["output"], **kw)
        if dropout:
            put_back_dropout(path, opset)
        onnx.checker.check_model(onnx.load(path), full_check=True)
        x.numpy().astype("<f4").tofile(os.path.join(d, "input.bin"))
        y.numpy().astype("<f4").tofile(os.path.join(d, "output.bin"))
        ops = sorted({n.op_type for n in onnx.load(path).graph.node})
        manifest.append({
            "name": name, "model": path,
            "input": os.path.join(d, "input.bin"), "input_shape": list(x.shape),
            "output": os.path.join(d, "output.bin"), "output_shape": list(y.shape),
            "opset": opset, "dynamic_batch": dynamic, "expect": expect, "about": about, "ops": ops,
        })
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
