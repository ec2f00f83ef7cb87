"""PyTorch side of TestPyTorchInterop.

    python3 interop.py write W.safetensors DATA OUT.json   random weights from PyTorch
    python3 interop.py read  W.safetensors DATA OUT.json   weights written by convc

Either way it prints the softmax probabilities of the first 100 MNIST test
images as JSON. Weights use convc's names and Keras layouts: conv kernels
HWIO, dense kernels (in, units).
"""
import json, os, struct, sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bench"))
from pytorch_mnist import Net, read_idx  # noqa: E402

CONVS = ["conv2d", "conv2d_1", "conv2d_2"]


def save(path, tensors):
    header, blobs, off = {"__metadata__": {"format": "pytorch"}}, [], 0
    for name, arr in tensors:
        b = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def load(path):
    raw = open(path, "rb").read()
    n, = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        assert t["dtype"] == "F32", t["dtype"]
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype="<f4").reshape(t["shape"])
    return out


def main():
    mode, wpath, data, outpath = sys.argv[1:5]
    torch.manual_seed(1234)
    net = Net()
    with torch.no_grad():
        if mode == "write":
            for m in [getattr(net, c) for c in CONVS] + [net.dense]:
                m.weight.normal_(0, 0.1)
                m.bias.normal_(0, 0.1)
            ts = []
            for c in CONVS:
                m = getattr(net, c)
                ts.append((c + "/kernel", m.weight.permute(2, 3, 1, 0).numpy()))
                ts.append((c + "/bias", m.bias.numpy()))
            ts.append(("dense/kernel", net.dense.weight.t().numpy()))
            ts.append(("dense/bias", net.dense.bias.numpy()))
            save(wpath, ts)
        else:
            w = load(wpath)
            for c in CONVS:
                m = getattr(net, c)
                m.weight.copy_(torch.from_numpy(w[c + "/kernel"].copy()).permute(3, 2, 0, 1))
                m.bias.copy_(torch.from_numpy(w[c + "/bias"].copy()))
            net.dense.weight.copy_(torch.from_numpy(w["dense/kernel"].copy()).t())
            net.dense.bias.copy_(torch.from_numpy(w["dense/bias"].copy()))
        for name in ("t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte"):
            if os.path.exists(os.path.join(data, name)):
                x = read_idx(os.path.join(data, name))[:100]
                break
        x = torch.from_numpy(x.astype(np.float32) / 255).unsqueeze(1)
        probs = torch.softmax(net(x), dim=1).numpy()
    json.dump(probs.tolist(), open(outpath, "w"))


if __name__ == "__main__":
    main()
