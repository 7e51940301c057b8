"""Fashion-MNIST for the PyTorch peers: the loader both training benchmarks share."""
import gzip
import os

import numpy as np


def load_fmnist(split):
    """Fashion-MNIST's IDX files (Debian's dataset-fashion-mnist) as float32 rows in [0, 1]."""
    root = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
    prefix = "train" if split == "train" else "t10k"

    def read(name, offset):
        with gzip.open(os.path.join(root, f"{prefix}-{name}-ubyte.gz"), "rb") as f:
            return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)

    x = read("images-idx3", 16).reshape(-1, 784).astype(np.float32) / np.float32(255)
    return x, read("labels-idx1", 8).astype(np.int64)

