"""Runs the PyTorch side of convc's parity tests (codegen/pytorch_test.go).

    python3 pytorch_parity.py MANIFEST.json

For each case of the manifest it imports the generated model.py and
train.py, loads the weights the Go side wrote, and writes a safetensors
file of results: the forward output and each layer's output (Keras layout),
the loss, every parameter's gradient (Keras layout), and the weights after
two steps of each optimizer fed with the Go side's gradients. Augment cases
apply RandomRotation/RandomZoom transforms drawn by Go to the same images.
One process handles every case, to stay fast.
"""
import importlib.util
import json
import sys
import traceback

import numpy as np
import torch


def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    m = importlib.util.module_from_spec(spec)
    sys.modules[name] = m
    spec.loader.exec_module(m)
    return m


def to_nhwc(t):
    a = t.detach().numpy()
    if a.ndim == 4:
        a = a.transpose(0, 2, 3, 1)
    return np.ascontiguousarray(a, dtype=np.float32)


def run_model(i, c):
    model = load_module("model", c["dir"] + "/model.py")
    train = load_module("convc_train_%d" % i, c["dir"] + "/train.py")
    ins, _ = model.read_safetensors(c["inputs"])
    net = model.Model()
    model.load_weights(net, c["weights"])
    net.eval()
    res = {}
    for name, mod in net.named_children():
        mod.register_forward_hook(lambda m, inp, out, name=name: res.__setitem__("act/" + name, to_nhwc(out)))
    x = torch.from_numpy(ins["x"])
    y = torch.from_numpy(ins["y"])
    if c["loss"] == "sparse_categorical_crossentropy":
        y = y.long()
    z = net(x)
    loss, _ = train.loss_sums(z, y, c["loss"])
    loss = loss / len(x)
    loss.backward()
    res["out"] = to_nhwc(z)
    res["loss"] = np.array([loss.item()], dtype=np.float32)
    for name, _, attr, layout, _, _, _ in model.PARAMS:
        p = net.get_parameter(attr)
        if p.grad is not None:
            res["grad/" + name] = model.to_keras(name, layout, p.grad)
    for j, cfg in enumerate(c["optimizers"]):
        net2 = model.Model()
        model.load_weights(net2, c["weights"])
        params = []
        for name, _, attr, layout, _, _, trainable in model.PARAMS:
            p = net2.get_parameter(attr)
            if trainable:
                p.grad = model.from_keras(layout, ins["grad/" + name])
                params.append(p)
        opt = train.make_optimizer(params, cfg)
        for _ in range(2):
            opt.step()
        for name, _, attr, layout, _, _, _ in model.PARAMS:
            res["opt%d/%s" % (j, name)] = model.to_keras(name, layout, net2.get_parameter(attr))
    model.write_safetensors(c["result"], res)


def run_augment(c):
    model = load_module("model", c["dir"] + "/model.py")
    ins, _ = model.read_safetensors(c["inputs"])
    x = torch.from_numpy(ins["x"]).permute(0, 3, 1, 2)
    out = model.apply_transform(x, torch.from_numpy(ins["t"]), c["fill_mode"], c["interpolation"])
    model.write_safetensors(c["result"], {"out": to_nhwc(out)})


def main():
    torch.set_num_threads(1)
    manifest = json.load(open(sys.argv[1]))
    errors = {}
    for i, c in enumerate(manifest["cases"]):
        try:
            if c.get("augment"):
                run_augment(c)
            else:
                run_model(i, c)
        except Exception:
            errors[c["name"]] = traceback.format_exc()
    json.dump(errors, open(manifest["errors"], "w"))


if __name__ == "__main__":
    main()
