"""Writes a VGG16 in torchvision's layout with random weights, the way the
published ImageNet weights are laid out, and what it computes on a few
images, for convert's tests.

    torch_vgg16.py OUT_DIR SIZE

OUT_DIR/vgg16.safetensors holds the state dict of the convolutional base
(features.0.weight ... features.28.bias, OIHW, float32); OUT_DIR/io.safetensors
holds "x", two images (N, SIZE, SIZE, 3) of values in [0, 255], and "y", the
base's output on them after torchvision's normalization, in (N, H, W, C).
"""
import json
import struct
import sys

import torch
from torch import nn


def vgg16_features():
    layers, c = [], 3
    for v in [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=True)]
            c = v
    return nn.Sequential(*layers)


def save(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        b = t.detach().contiguous().to(torch.float32).numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    out, size = sys.argv[1], int(sys.argv[2])
    torch.manual_seed(0)
    model = nn.Module()
    model.features = vgg16_features()
    # Biases of the default init are tiny; make them matter.
    for m in model.features:
        if isinstance(m, nn.Conv2d):
            nn.init.uniform_(m.bias, -0.1, 0.1)
    save(out + "/vgg16.safetensors", model.state_dict())
    x = torch.rand(2, size, size, 3) * 255
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        y = model.features((x.permute(0, 3, 1, 2) / 255 - mean) / std).permute(0, 2, 3, 1)
    save(out + "/io.safetensors", {"x": x, "y": y})


if __name__ == "__main__":
    main()
