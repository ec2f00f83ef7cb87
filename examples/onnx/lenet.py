"""LeNet-5 in PyTorch, trained on MNIST and exported to ONNX: the model
"from elsewhere" of the README's worked example.

    /usr/bin/python3 examples/onnx/lenet.py --data "$(go run ./bench/mnistdir)" -o lenet.onnx

It trains one epoch (about a minute on 2 cores), prints the test accuracy,
and exports the network with its softmax by torch.onnx.export, as any
PyTorch user would. Pixels go in as x / 255, NCHW.
"""
import argparse, gzip, os, struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    raw = open(path, "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    ndim = struct.unpack(">I", raw[:4])[0] & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(data, prefix):
    for ext in ("", ".gz"):
        p = os.path.join(data, prefix + "-images-idx3-ubyte" + ext)
        if os.path.exists(p):
            x = read_idx(p).astype(np.float32) / 255
            y = read_idx(os.path.join(data, prefix + "-labels-idx1-ubyte" + ext)).astype(np.int64)
            return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y)
    raise SystemExit("no %s IDX files in %s" % (prefix, data))


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class WithSoftmax(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return F.softmax(self.net(x), dim=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="folder with MNIST's IDX files")
    ap.add_argument("-o", default="lenet.onnx")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--limit", type=int, default=0, help="train on the first N images only")
    args = ap.parse_args()
    torch.manual_seed(0)
    x, y = load(args.data, "train")
    if args.limit:
        x, y = x[:args.limit], y[:args.limit]
    tx, ty = load(args.data, "t10k")
    net = LeNet()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(args.epochs):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            F.cross_entropy(net(x[idx]), y[idx]).backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        acc = (net(tx).argmax(1) == ty).float().mean().item()
    print("PyTorch test accuracy: %.4f" % acc)
    model = WithSoftmax(net).eval()
    torch.onnx.export(model, tx[:1], args.o, input_names=["input"], output_names=["probabilities"],
                      dynamic_axes={"input": {0: "batch"}, "probabilities": {0: "batch"}}, opset_version=13)
    print("wrote", args.o)


if __name__ == "__main__":
    main()
