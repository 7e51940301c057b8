"""PyTorch peer of descent's MLP benchmark: Fashion-MNIST, MLP 784-256-128-10 (ReLU).

Usage: torch_mlp_bench.py --opt momentum|adam [--steps 200] [--warmup 10] [--batch 128]
                          [--threads 2] [--seed 0] [--device cpu|cuda]

SGD with momentum 0.9 at lr 0.05, or Adam at lr 1e-3; cross-entropy averaged over the batch;
float32; images standardised with the training set's mean and standard deviation; batches
from a seeded permutation of the 60,000 training images. Prints one JSON line: the median
and all times of a whole step (batch gather, forward, backward, optimizer step) after
`warmup` steps, and samples/s at the median. On a GPU (`--device cuda`) the data set, model
and batch indices live on the device, and each step ends with the loss read back to the host
(`loss.item()`), so a step's time includes the device's work.
"""
import argparse
import json
import statistics
import time

import numpy as np
import torch
import torch.nn as nn

from descent_fmnist import load_fmnist  # beside this script


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--opt", choices=["momentum", "adam"], required=True)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    device = torch.device(a.device)
    xtr, ytr = load_fmnist("train")
    xtr = torch.from_numpy((xtr - xtr.mean()) / xtr.std()).to(device)
    ytr = torch.from_numpy(ytr).to(device)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                          nn.Linear(128, 10)).to(device)
    if a.opt == "momentum":
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(a.seed)
    order = torch.from_numpy(rng.permutation(len(xtr))).to(device)
    times = []
    for i in range(a.warmup + a.steps):
        start = (i * a.batch) % (len(order) - a.batch)
        t = time.perf_counter()
        idx = order[start:start + a.batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xtr[idx]), ytr[idx])
        loss.backward()
        opt.step()
        loss.item()
        if i >= a.warmup:
            times.append(time.perf_counter() - t)
    median = statistics.median(times)
    print(json.dumps({"peer": "torch", "torch": torch.__version__, "opt": a.opt,
                      "device": str(device), "threads": a.threads, "batch": a.batch, "median_step_seconds": median,
                      "samples_per_second": a.batch / median, "step_seconds": times}))


if __name__ == "__main__":
    main()
