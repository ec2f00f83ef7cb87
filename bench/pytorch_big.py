"""The PyTorch side of bench/run-big: the networks of sections 8.2 and 8.3.

It times, on synthetic data (data loading is excluded on both sides):
  - the dogs-vs-cats convnet (specs/cats_vs_dogs.cnn): a training step at
    batch 32, inference at batch 32, and one image;
  - VGG16's convolutional base at 180x180 (bench/specs/vgg16_base.cnn):
    inference at batch 32, as feature extraction runs it;
  - the fine-tuning step of bench/specs/vgg16_finetune.cnn at batch 32:
    blocks 1-4 frozen, block5 and the head trained with RMSprop(1e-5);
  - each VGG16 convolution's forward pass on one image.

It prints one JSON object per line, the medians of --reps timed repetitions
after a warm-up. Run it with the same thread count as the Go side.
"""
import argparse
import json
import statistics
import time

import torch
from torch import nn


def cats_vs_dogs():
    layers, c = [], 3
    for f in (32, 64, 128, 256):
        layers += [nn.Conv2d(c, f, 3), nn.ReLU(), nn.MaxPool2d(2)]
        c = f
    layers += [nn.Conv2d(256, 256, 3), nn.ReLU(), nn.Flatten(), nn.Linear(7 * 7 * 256, 1)]
    return nn.Sequential(*layers)


VGG = [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]


def vgg16_base():
    blocks, c = [], 3
    for f, n in VGG:
        layers = []
        for _ in range(n):
            layers += [nn.Conv2d(c, f, 3, padding=1), nn.ReLU()]
            c = f
        layers.append(nn.MaxPool2d(2))
        blocks.append(nn.Sequential(*layers))
    return nn.Sequential(*blocks)


def timed(fn, reps, warmup=1):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", default="", help="comma-separated subset of: cats,vgg,finetune,layers")
    ap.add_argument("--rss", action="store_true", help="also print the peak RSS of the finetune run as finetune_rss_mb")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    only = set(filter(None, args.only.split(",")))
    want = lambda k: not only or k in only
    res = {"threads": args.threads}

    if want("cats"):
        m = cats_vs_dogs()
        x = torch.rand(32, 3, 180, 180) * 255
        y = (torch.rand(32, 1) > 0.5).float()
        opt = torch.optim.RMSprop(m.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
        lossf = nn.BCEWithLogitsLoss()

        def step():
            opt.zero_grad()
            loss = lossf(m(x / 255), y)
            loss.backward()
            opt.step()

        res["cats_train_img_s"] = 32 / timed(step, args.reps)
        with torch.no_grad():
            res["cats_infer_img_s"] = 32 / timed(lambda: torch.sigmoid(m(x / 255)), args.reps)
            one = x[:1]
            res["cats_latency_ms"] = 1000 * timed(lambda: torch.sigmoid(m(one / 255)), max(args.reps, 10), warmup=3)

    if want("vgg"):
        base = vgg16_base().eval()
        x = torch.rand(32, 3, 180, 180)
        with torch.no_grad():
            res["vgg_infer_img_s"] = 32 / timed(lambda: base(x), args.reps)

    if want("finetune"):
        base = vgg16_base()
        head = nn.Sequential(nn.Flatten(), nn.Linear(5 * 5 * 512, 256), nn.Dropout(0.5), nn.Linear(256, 1))
        for p in base[:4].parameters():
            p.requires_grad = False
        m = nn.Sequential(base, head)
        params = [p for p in m.parameters() if p.requires_grad]
        opt = torch.optim.RMSprop(params, lr=1e-5, alpha=0.9, eps=1e-7)
        lossf = nn.BCEWithLogitsLoss()
        x = torch.rand(32, 3, 180, 180)
        y = (torch.rand(32, 1) > 0.5).float()

        def step():
            opt.zero_grad()
            loss = lossf(m(x), y)
            loss.backward()
            opt.step()

        res["finetune_train_img_s"] = 32 / timed(step, args.reps)

    if want("layers"):
        size, c = 180, 3
        layers = {}
        with torch.no_grad():
            for b, (f, n) in enumerate(VGG, 1):
                for i in range(1, n + 1):
                    conv = nn.Conv2d(c, f, 3, padding=1)
                    x = torch.rand(1, c, size, size)
                    t = timed(lambda: torch.relu(conv(x)), max(args.reps, 5), warmup=2)
                    layers[f"block{b}_conv{i}"] = t * 1000
                    c = f
                size //= 2
        res["vgg_layer_ms"] = layers
    if args.rss:
        import resource
        res["finetune_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
