"""PyTorch peer of descent's optimizer-step benchmark: one Adam step on one flat float32
tensor of N parameters, as `optimizer.step()` alone (gradients already there).

Usage: torch_adam_step_bench.py [--size 1e7] [--steps 20] [--threads 2]

Times PyTorch's three Adam implementations (foreach, single-tensor for-loop, fused) and
prints one JSON line with each one's median seconds per step, ns per parameter, and GB/s at
28 bytes per parameter (read the parameter, gradient and both moments, write the parameter
and both moments: 7 float32 passes).
"""
import argparse
import json
import statistics
import time

import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=float, default=1e7)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    n = int(a.size)
    out = {"peer": "torch", "torch": torch.__version__, "threads": a.threads, "size": n}
    for name, kwargs in [("foreach", {"foreach": True}), ("for_loop", {"foreach": False}),
                         ("fused", {"fused": True})]:
        w = torch.nn.Parameter(torch.randn(n))
        w.grad = torch.randn(n)
        opt = torch.optim.Adam([w], lr=1e-3, **kwargs)
        times = []
        for i in range(a.steps + 3):
            t = time.perf_counter()
            opt.step()
            if i >= 3:
                times.append(time.perf_counter() - t)
        median = statistics.median(times)
        out[name] = {"median_step_seconds": median, "ns_per_parameter": median / n * 1e9,
                     "gb_per_second": 28 * n / median / 1e9}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
