"""Train the cnn_marathon baseline reproducibly: same seed, same bytes of weights.npz.

    python baselines/cnn_marathon/train.py             # retrain and overwrite weights.npz
    python baselines/cnn_marathon/train.py --check     # retrain in memory, compare with the file
    python baselines/cnn_marathon/train.py --gradcheck # backprop against finite differences

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
EPOCHS = 30
BATCH = 32
LR = 0.05
MOMENTUM = 0.9
WEIGHT_DECAY = 1e-4
CHANNELS = (1, 8, 16)  # conv 1: 1 -> 8, conv 2: 8 -> 16, both 3x3
DENSE = (7 * 7 * 16, 10)
sliding_window_view = np.lib.stride_tricks.sliding_window_view


def train(x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Mini-batch SGD with momentum on softmax cross-entropy; He-initialised, float32."""
    rng = np.random.default_rng(SEED)
    params = initial(rng)
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


def initial(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """He initialisation: weights N(0, 2 / fan_in), biases zero."""
    params: dict[str, np.ndarray] = {}
    for i, (c_in, c_out) in enumerate(itertools.pairwise(CHANNELS), start=1):
        scale = np.float32(np.sqrt(2.0 / (9 * c_in)))
        params[f"w{i}"] = rng.standard_normal((3, 3, c_in, c_out), dtype=np.float32) * scale
        params[f"b{i}"] = np.zeros(c_out, dtype=np.float32)
    scale = np.float32(np.sqrt(2.0 / DENSE[0]))
    params["w3"] = rng.standard_normal(DENSE, dtype=np.float32) * scale
    params["b3"] = np.zeros(DENSE[1], dtype=np.float32)
    return params


def im2col(x: np.ndarray) -> np.ndarray:
    """(N, H, W, C) -> (N * H * W, 9 * C): every pixel's zero-padded 3x3 neighbourhood."""
    n, h, w, c = x.shape
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    windows = sliding_window_view(padded, (3, 3), axis=(1, 2)).transpose(0, 1, 2, 4, 5, 3)
    return windows.reshape(n * h * w, 9 * c)


def conv(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Same-padded 3x3 convolution, channels last, kernels (3, 3, C_in, C_out).

    Returns the output and the im2col matrix (kept for the weight gradient).
    """
    cols = im2col(x)
    return (cols @ w.reshape(cols.shape[1], -1) + b).reshape(*x.shape[:3], -1), cols


def pool(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2x2 max-pooling; also returns which of the four inputs won (first one on a tie)."""
    n, h, w, c = x.shape
    quads = x.reshape(n, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 5, 2, 4)
    quads = quads.reshape(n, h // 2, w // 2, c, 4)
    winner = quads.argmax(axis=-1)
    return np.take_along_axis(quads, winner[..., None], axis=-1)[..., 0], winner


def unpool(d: np.ndarray, winner: np.ndarray) -> np.ndarray:
    """Backward of pool: each pooled gradient goes to the input that won, zeros elsewhere."""
    n, h, w, c = d.shape
    routed = (np.arange(4) == winner[..., None]) * d[..., None]  # (N, h, w, C, 4)
    routed = routed.reshape(n, h, w, c, 2, 2).transpose(0, 1, 4, 2, 5, 3)
    return routed.reshape(n, 2 * h, 2 * w, c)


def forward(p: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, dict]:
    h0 = x.transpose(0, 2, 3, 1)
    a1, cols1 = conv(h0, p["w1"], p["b1"])
    h1, win1 = pool(np.maximum(a1, 0))
    a2, cols2 = conv(h1, p["w2"], p["b2"])
    h2, win2 = pool(np.maximum(a2, 0))
    flat = h2.reshape(len(x), -1)
    cache = {"a1": a1, "cols1": cols1, "win1": win1, "a2": a2, "cols2": cols2, "win2": win2}
    return flat @ p["w3"] + p["b3"], cache | {"flat": flat}


def gradients(p: dict[str, np.ndarray], x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
    z, c = forward(p, x)
    z = z - z.max(axis=1, keepdims=True)
    prob = np.exp(z)
    prob /= prob.sum(axis=1, keepdims=True)
    dz = (prob - t) / np.float32(len(x))
    dh2 = (dz @ p["w3"].T).reshape(c["win2"].shape)
    da2 = unpool(dh2, c["win2"]) * (c["a2"] > 0)
    # input gradient of a same-padded 3x3 convolution: the same convolution of the output
    # gradient with the kernels flipped in space and the two channel axes swapped
    flipped = p["w2"][::-1, ::-1].transpose(0, 1, 3, 2)
    dh1, _ = conv(da2, flipped, np.zeros(flipped.shape[-1], dtype=da2.dtype))
    da1 = unpool(dh1, c["win1"]) * (c["a1"] > 0)
    da2, da1 = da2.reshape(-1, da2.shape[-1]), da1.reshape(-1, da1.shape[-1])
    return {
        "w3": c["flat"].T @ dz, "b3": dz.sum(axis=0),
        "w2": (c["cols2"].T @ da2).reshape(p["w2"].shape), "b2": da2.sum(axis=0),
        "w1": (c["cols1"].T @ da1).reshape(p["w1"].shape), "b1": da1.sum(axis=0),
    }  # fmt: skip


def accuracy(p: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    scores = np.concatenate([forward(p, x[i : i + 500])[0] for i in range(0, len(x), 500)])
    return float(np.mean(np.argmax(scores, axis=1) == y))


def gradcheck(x: np.ndarray, y: np.ndarray) -> float:
    """Largest relative error of the backprop against central differences, in float64."""
    rng = np.random.default_rng(SEED)
    p = {k: v.astype(np.float64) for k, v in initial(rng).items()}
    for k in ("b1", "b2", "b3"):  # non-zero biases keep the ReLUs off their kink at 0
        p[k] = rng.uniform(0.05, 0.1, size=p[k].shape)
    x, t = x[:4].astype(np.float64), np.eye(10)[y[:4]]

    def loss(q: dict[str, np.ndarray]) -> float:
        z = forward(q, x)[0]
        z = z - z.max(axis=1, keepdims=True)
        return float(-np.mean(np.sum(t * (z - np.log(np.exp(z).sum(axis=1, keepdims=True))), 1)))

    grads, worst, eps = gradients(p, x, t), 0.0, 1e-6
    for k in sorted(p):
        for i in rng.choice(p[k].size, size=min(10, p[k].size), replace=False):
            flat = p[k].reshape(-1)
            keep = flat[i]
            flat[i] = keep + eps
            up = loss(p)
            flat[i] = keep - eps
            down = loss(p)
            flat[i] = keep
            numeric, analytic = (up - down) / (2 * eps), grads[k].reshape(-1)[i]
            err = abs(numeric - analytic) / max(1e-8, abs(numeric) + abs(analytic))
            worst = max(worst, err)
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with weights.npz")
    parser.add_argument("--gradcheck", action="store_true", help="check the backprop only")
    args = parser.parse_args(argv)
    rules = load_rules()
    workload = get_workload(rules, "cnn_marathon")
    images, labels = load_split(rules, workload.dataset, "train")
    if args.gradcheck:
        worst = gradcheck(as_inputs(images, workload), labels)
        print(f"largest relative gradient error {worst:.2e}")
        return 0 if worst < 1e-5 else 1
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
