"""The MNIST convnet of listing 8-1 in PyTorch, trained as Keras trains it.

Same architecture, Keras's glorot_uniform initialization, Keras's RMSprop
(epsilon inside the square root), batch size 64, mean sparse categorical
cross-entropy. Reads the IDX files of the GoMNIST module (or -data DIR).

    python3 bench/pytorch_mnist.py --data DIR [--epochs 1] [--limit N] [--threads 2] [--json]
    python3 bench/pytorch_mnist.py --data DIR --bench [--steps 100] [--threads 2]

With --bench it times what bench/gobench times, with data loading excluded:
training steps of batch 64, inference at batch 1,000, one image under
torch.no_grad(), and the peak RSS, and prints them as one JSON line.
"""
import argparse, gzip, json, math, os, struct, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    raw = open(path, "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    magic, = struct.unpack(">I", raw[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(data, prefix):
    for ext in ("", ".gz"):
        p = os.path.join(data, prefix + "-images-idx3-ubyte" + ext)
        if os.path.exists(p):
            x = read_idx(p)
            y = read_idx(os.path.join(data, prefix + "-labels-idx1-ubyte" + ext))
            return x, y
    raise SystemExit("no %s IDX files in %s" % (prefix, data))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv2d = nn.Conv2d(1, 32, 3)
        self.conv2d_1 = nn.Conv2d(32, 64, 3)
        self.conv2d_2 = nn.Conv2d(64, 128, 3)
        self.dense = nn.Linear(1152, 10)
        for m in (self.conv2d, self.conv2d_1, self.conv2d_2):
            kh, kw = m.kernel_size
            fan_in, fan_out = kh * kw * m.in_channels, kh * kw * m.out_channels
            lim = math.sqrt(6 / (fan_in + fan_out))
            nn.init.uniform_(m.weight, -lim, lim)
            nn.init.zeros_(m.bias)
        lim = math.sqrt(6 / (1152 + 10))
        nn.init.uniform_(self.dense.weight, -lim, lim)
        nn.init.zeros_(self.dense.bias)

    def forward(self, x):  # x: NCHW
        x = F.max_pool2d(F.relu(self.conv2d(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2d_1(x)), 2)
        x = F.relu(self.conv2d_2(x))
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # Keras flattens HWC
        return self.dense(x)


class KerasRMSprop(torch.optim.Optimizer):
    """Keras >= 2.11 RMSprop: v = rho v + (1-rho) g^2; w -= lr g / sqrt(v + eps)."""

    def __init__(self, params, lr=1e-3, rho=0.9, eps=1e-7):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps))

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if "v" not in st:
                    st["v"] = torch.zeros_like(p)
                v = st["v"]
                v.mul_(g["rho"]).addcmul_(p.grad, p.grad, value=1 - g["rho"])
                p.addcdiv_(p.grad, (v + g["eps"]).sqrt_(), value=-g["lr"])


def bench(a, xtr, ytr, xte):
    import resource
    net = Net()
    opt = KerasRMSprop(net.parameters())
    batches = [(xtr[i * 64:(i + 1) * 64], ytr[i * 64:(i + 1) * 64]) for i in range(a.steps + 5)]

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()

    for x, y in batches[:5]:
        step(x, y)
    t0 = time.perf_counter()
    for x, y in batches[5:]:
        step(x, y)
    train_ips = a.steps * 64 / (time.perf_counter() - t0)
    with torch.no_grad():
        net(xte[:1000])
        t0 = time.perf_counter()
        for b in range(5):
            net(xte[b * 1000:(b + 1) * 1000])
        infer_ips = 5000 / (time.perf_counter() - t0)
        one = xte[:1]
        for _ in range(50):
            net(one)
        n = 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 0.5:
            net(one)
            n += 1
        lat = (time.perf_counter() - t0) / n * 1e6
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"threads": a.threads, "train_images_per_second": train_ips,
                      "epoch_seconds": 60000 / train_ips, "infer_images_per_second": infer_ips,
                      "predict_latency_us": lat, "peak_rss_mb": rss}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--steps", type=int, default=100)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr, ytr = load(a.data, "train")
    xte, yte = load(a.data, "t10k")
    if a.limit:
        xtr, ytr = xtr[:a.limit], ytr[:a.limit]
    xtr = torch.from_numpy(xtr.astype(np.float32) / 255).unsqueeze(1)
    ytr = torch.from_numpy(ytr.astype(np.int64))
    xte = torch.from_numpy(xte.astype(np.float32) / 255).unsqueeze(1)
    yte = torch.from_numpy(yte.astype(np.int64))
    if a.bench:
        return bench(a, xtr, ytr, xte)
    net = Net()
    opt = KerasRMSprop(net.parameters())
    n = len(xtr)
    train_time = 0.0
    for epoch in range(a.epochs):
        perm = torch.randperm(n)
        t0 = time.perf_counter()
        tl = tc = 0.0
        for s in range(0, n, a.batch_size):
            idx = perm[s:s + a.batch_size]
            x, y = xtr[idx], ytr[idx]
            opt.zero_grad()
            z = net(x)
            loss = F.cross_entropy(z, y)
            loss.backward()
            opt.step()
            tl += loss.item() * len(idx)
            tc += (z.argmax(1) == y).sum().item()
        dt = time.perf_counter() - t0
        train_time += dt
        print("epoch %d/%d - %.0fs - loss: %.4f - accuracy: %.4f" % (epoch + 1, a.epochs, dt, tl / n, tc / n), file=sys.stderr)
    with torch.no_grad():
        correct = 0
        for s in range(0, len(xte), 1000):
            correct += (net(xte[s:s + 1000]).argmax(1) == yte[s:s + 1000]).sum().item()
    acc = correct / len(xte)
    print("test accuracy: %.3f" % acc)
    if a.json:
        print(json.dumps({"test_accuracy": acc, "train_seconds": train_time,
                          "train_images_per_second": a.epochs * n / train_time}))


if __name__ == "__main__":
    main()
