"""PyTorch peer of descent's 2c2d CNN benchmark: DeepOBS's fmnist_2c2d trained with Adam.

Usage: torch_2c2d_bench.py [--steps 30] [--warmup 5] [--batch 128] [--threads 2]
                           [--eval-batch 1000] [--epochs 0] [--device cpu|cuda]

The network: conv 5x5 32 'same' + ReLU + max-pool 2x2, conv 5x5 64 'same' + ReLU + max-pool
2x2, dense 3136 -> 1024 + ReLU, dense 1024 -> 10 (3,274,634 parameters), cross-entropy
averaged over the batch, Adam(lr=1e-3), float32, images standardised with the training
set's mean and standard deviation (descent's `standardize = "global"`). Batches are drawn
by a seeded permutation of the 60,000 training images (descent holds none out here either).

Prints one JSON line: the median and all step times (forward, backward, optimizer step) after
`warmup` steps, samples/s, and the time to evaluate the 10,000 test images in batches of
`eval-batch` (median of 3). With `--epochs N` it also trains N full epochs and reports the
test accuracy after each. On a GPU (`--device cuda`) the data sets, model and batch indices
live on the device; every step and evaluation ends with a value read back to the host
(`.item()`), so their times include the device's work.
"""
import argparse
import json
import statistics
import time

import numpy as np
import torch
import torch.nn as nn

from descent_fmnist import load_fmnist  # beside this script


def net():
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 1024), nn.ReLU(), nn.Linear(1024, 10),
    )


def evaluate(model, x, y, batch):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    model.train()
    return correct / len(x)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--eval-batch", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    device = torch.device(a.device)
    (xtr, ytr), (xte, yte) = load_fmnist("train"), load_fmnist("test")
    mean, std = xtr.mean(), xtr.std()
    xtr = torch.from_numpy((xtr - mean) / std).reshape(-1, 1, 28, 28).to(device)
    xte = torch.from_numpy((xte - mean) / std).reshape(-1, 1, 28, 28).to(device)
    ytr, yte = torch.from_numpy(ytr).to(device), torch.from_numpy(yte).to(device)
    model = net().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(a.seed)

    def batches():
        while True:
            order = torch.from_numpy(rng.permutation(len(xtr))).to(device)
            for i in range(0, len(order) - a.batch + 1, a.batch):
                yield order[i:i + a.batch]

    stream = batches()

    def step():
        idx = next(stream)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xtr[idx]), ytr[idx])
        loss.backward()
        opt.step()
        return loss.item()

    times = []
    for i in range(a.warmup + a.steps):
        t = time.perf_counter()
        step()
        if i >= a.warmup:
            times.append(time.perf_counter() - t)
    evals = []
    for _ in range(3):
        t = time.perf_counter()
        evaluate(model, xte, yte, a.eval_batch)
        evals.append(time.perf_counter() - t)
    out = {
        "peer": "torch", "torch": torch.__version__, "device": str(device),
        "threads": a.threads, "batch": a.batch,
        "median_step_seconds": statistics.median(times),
        "step_seconds": times,
        "samples_per_second": a.batch / statistics.median(times),
        "median_eval_seconds": statistics.median(evals),
        "eval_batch": a.eval_batch,
    }
    if a.epochs:
        model = net().to(device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        accuracies = []
        per_epoch = len(xtr) // a.batch
        for _ in range(a.epochs):
            t = time.perf_counter()
            for _ in range(per_epoch):
                step()
            accuracies.append({"seconds": time.perf_counter() - t,
                               "test_accuracy": evaluate(model, xte, yte, a.eval_batch)})
        out["epochs"] = accuracies
    print(json.dumps(out))


if __name__ == "__main__":
    main()
