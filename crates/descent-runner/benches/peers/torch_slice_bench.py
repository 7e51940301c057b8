"""PyTorch peer of descent's loss-surface benchmark: a 2-D filter-normalised slice of the
Fashion-MNIST MLP 784-256-128-10 (ReLU), as Li et al.'s loss-landscape code computes one.

Usage: torch_slice_bench.py [--points 25] [--items 10000] [--threads 2] [--seed 0]
                            [--device cpu|cuda]

The model at its (seeded) initialisation; two random Gaussian directions, each output
neuron's row (PyTorch stores a dense weight as [out, in]) rescaled to the norm of the weights'
row, biases zeroed (Li et al.'s `normalize_directions_for_weights` with `ignore='biasbn'`);
the training loss (cross-entropy, mean) on the first `items` standardised training images at
every point of a `points` x `points` grid on [-1, 1]^2, the weights set in place under
`torch.no_grad()` and the loss computed in one forward pass per point. float32. Prints one
JSON line: the seconds of the grid (data and directions made before the clock starts), the
number of evaluations, and the loss at the centre.
"""
import argparse
import json
import time

import numpy as np
import torch
import torch.nn as nn

from descent_fmnist import load_fmnist  # beside this script


@torch.no_grad()
def direction(model):
    out = []
    for w in model.parameters():
        w = w.detach()
        d = torch.randn_like(w)
        if w.dim() <= 1:
            d.zero_()
        else:
            for dr, wr in zip(d, w):
                dr.mul_(wr.norm() / (dr.norm() + 1e-10))
        out.append(d)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--points", type=int, default=25)
    p.add_argument("--items", type=int, default=10000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    device = torch.device(a.device)
    xtr, ytr = load_fmnist("train")
    x = torch.from_numpy((xtr - xtr.mean()) / xtr.std())[: a.items].to(device)
    y = torch.from_numpy(ytr)[: a.items].to(device)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                          nn.Linear(128, 10)).to(device)
    loss_fn = nn.CrossEntropyLoss()
    w0 = [w.detach().clone() for w in model.parameters()]
    d1, d2 = direction(model), direction(model)
    grid = np.linspace(-1.0, 1.0, a.points)
    centre = None
    start = time.perf_counter()
    with torch.no_grad():
        for b in grid:
            for c in grid:
                for w, base, u, v in zip(model.parameters(), w0, d1, d2):
                    w.copy_(base + float(c) * u + float(b) * v)
                loss = loss_fn(model(x), y).item()
                if abs(b) < 1e-12 and abs(c) < 1e-12:
                    centre = loss
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "evaluations": a.points * a.points,
                      "centre_loss": centre, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
