"""Train the mlp_sprint baseline reproducibly: same seed, same bytes of weights.npz.

    python baselines/mlp_sprint/train.py           # retrain and overwrite weights.npz
    python baselines/mlp_sprint/train.py --check   # retrain in memory, compare with the file

Training follows the CPU's SIMD kernels, so the script pins them before NumPy loads (one
BLAS thread, OpenBLAS's kernels as recorded in weights.env.json): the committed bytes come
back on any x86-64 CPU with AVX2. Elsewhere --check judges what holds on every machine
(held-out accuracy and the weights within a stated tolerance: grader/data/reproduce.py).
"""

from __future__ import annotations

from pathlib import Path

from grader.data import reproduce

HERE = Path(__file__).resolve().parent
reproduce.pin(HERE)  # BLAS threads and kernels, before NumPy loads

import argparse  # noqa: E402
import itertools  # noqa: E402

import numpy as np  # noqa: E402

from grader.config import load_rules  # noqa: E402
from grader.data.workloads import as_inputs, get_workload, load_split  # noqa: E402

SEED = 1234
EPOCHS = 40
BATCH = 32
LR = 0.05
MOMENTUM = 0.9
WEIGHT_DECAY = 1e-4
SIZES = (784, 128, 64, 10)


def train(x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Mini-batch SGD with momentum on softmax cross-entropy; He-initialised, float32."""
    rng = np.random.default_rng(SEED)
    params: dict[str, np.ndarray] = {}
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(SIZES), start=1):
        scale = np.float32(np.sqrt(2.0 / fan_in))
        params[f"w{i}"] = rng.standard_normal((fan_in, fan_out), dtype=np.float32) * scale
        params[f"b{i}"] = np.zeros(fan_out, dtype=np.float32)
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    onehot = np.eye(10, dtype=np.float32)[y]
    lr, mom, wd = np.float32(LR), np.float32(MOMENTUM), np.float32(WEIGHT_DECAY)
    for epoch in range(EPOCHS):
        order = rng.permutation(len(x))
        step = lr * np.float32(0.5 * (1 + np.cos(np.pi * epoch / EPOCHS)))  # cosine decay
        for start in range(0, len(x), BATCH):
            idx = order[start : start + BATCH]
            grads = gradients(params, x[idx], onehot[idx])
            for k in params:
                velocity[k] = mom * velocity[k] + grads[k] + wd * params[k]
                params[k] = params[k] - step * velocity[k]
    return params


def gradients(p: dict[str, np.ndarray], x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
    a1 = x @ p["w1"] + p["b1"]
    h1 = np.maximum(a1, 0)
    a2 = h1 @ p["w2"] + p["b2"]
    h2 = np.maximum(a2, 0)
    z = h2 @ p["w3"] + p["b3"]
    z = z - z.max(axis=1, keepdims=True)
    prob = np.exp(z)
    prob /= prob.sum(axis=1, keepdims=True)
    dz = (prob - t) / np.float32(len(x))
    dh2 = (dz @ p["w3"].T) * (a2 > 0)
    dh1 = (dh2 @ p["w2"].T) * (a1 > 0)
    return {
        "w3": h2.T @ dz, "b3": dz.sum(axis=0),
        "w2": h1.T @ dh2, "b2": dh2.sum(axis=0),
        "w1": x.T @ dh1, "b1": dh1.sum(axis=0),
    }  # fmt: skip


def accuracy(p: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    h = np.maximum(x @ p["w1"] + p["b1"], 0)
    h = np.maximum(h @ p["w2"] + p["b2"], 0)
    return float(np.mean(np.argmax(h @ p["w3"] + p["b3"], axis=1) == y))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with weights.npz")
    args = parser.parse_args(argv)
    rules = load_rules()
    workload = get_workload(rules, "mlp_sprint")
    images, labels = load_split(rules, workload.dataset, "train")
    params = train(as_inputs(images, workload), labels)
    train_acc = accuracy(params, as_inputs(images, workload), labels)
    test_images, test_labels = load_split(rules, workload.dataset, "test")
    return reproduce.save_or_check(
        HERE,
        params,
        args.check,
        train_acc,
        accuracy(params, as_inputs(test_images, workload), test_labels),
        workload.baseline_accuracy,
    )


if __name__ == "__main__":
    raise SystemExit(main())
