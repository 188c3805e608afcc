"""Train the transformer_decathlon baseline reproducibly: same seed, same bytes of weights.npz.

    python baselines/transformer_decathlon/train.py               # retrain, overwrite weights.npz
    python baselines/transformer_decathlon/train.py --check       # retrain in memory, compare
    python baselines/transformer_decathlon/train.py --gradcheck   # backprop vs numerical gradient

Training follows the CPU's SIMD kernels, so the script pins them before NumPy loads (one
BLAS thread, OpenBLAS's kernels as recorded in weights.env.json): the committed bytes come
back on any x86-64 CPU with AVX2. Elsewhere --check judges what holds on every machine
(held-out accuracy and the weights within a stated tolerance: grader/data/reproduce.py).

The backward pass is written by hand, layer by layer, mirroring the forward pass of
``model.py`` (patch embedding, pre-norm transformer blocks, mean pooling, classifier);
``--gradcheck`` compares it with central finite differences in float64.
"""

from __future__ import annotations

from pathlib import Path

from grader.data import reproduce

HERE = Path(__file__).resolve().parent
reproduce.pin(HERE)  # BLAS threads and kernels, before NumPy loads

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from grader.config import load_rules  # noqa: E402
from grader.data.workloads import as_inputs, get_workload, load_split  # noqa: E402

SEED = 1234
EPOCHS = 120
BATCH = 64
LR = 2e-3
WARMUP_EPOCHS = 3
WEIGHT_DECAY = 0.05  # decoupled (AdamW), on the weight matrices only
BETAS = (0.9, 0.999)
SHIFT = 2  # augmentation: random shifts of up to 2 pixels each way
DIM, HEADS, MLP_HIDDEN, DEPTH = 32, 4, 64, 2
PATCH, SIDE = 4, 32  # 28x28 padded to 32x32, cut into 8x8 = 64 patches of 4x4
EPS = 1e-5


def patchify(x: np.ndarray) -> np.ndarray:
    """(N, 1, 28, 28) -> (N, 64, 16): pad to 32x32, cut into 4x4 patches, row-major order."""
    n, g = len(x), SIDE // PATCH
    padded = np.pad(x[:, 0], ((0, 0), (2, 2), (2, 2)))
    return padded.reshape(n, g, PATCH, g, PATCH).transpose(0, 1, 3, 2, 4).reshape(n, g * g, -1)


def shifted(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each image moved by its own random (dy, dx) in [-SHIFT, SHIFT]; zeros fill in."""
    n = len(x)
    padded = np.pad(x[:, 0], ((0, 0), (SHIFT, SHIFT), (SHIFT, SHIFT)))
    dy, dx = rng.integers(0, 2 * SHIFT + 1, size=(2, n))
    rows = (np.arange(28) + dy[:, None])[:, :, None]
    cols = (np.arange(28) + dx[:, None])[:, None, :]
    return padded[np.arange(n)[:, None, None], rows, cols][:, None]


# --------------------------------------------------------------------------- parameters
def init_params(rng: np.random.Generator, dtype=np.float32) -> dict[str, np.ndarray]:
    """Linear layers ~ N(0, 1/fan_in); positions ~ N(0, 0.02^2); LayerNorm gain 1, shift 0."""

    def linear(fan_in: int, fan_out: int) -> np.ndarray:
        w = rng.standard_normal((fan_in, fan_out), dtype=np.float32)
        return (w * np.float32(1.0 / np.sqrt(fan_in))).astype(dtype)

    p = {
        "patch_w": linear(PATCH * PATCH, DIM),
        "patch_b": np.zeros(DIM, dtype),
        "pos": (rng.standard_normal(((SIDE // PATCH) ** 2, DIM), dtype=np.float32)
                * np.float32(0.02)).astype(dtype),
    }  # fmt: skip
    for i in range(DEPTH):
        p |= {
            f"b{i}_ln1_g": np.ones(DIM, dtype), f"b{i}_ln1_b": np.zeros(DIM, dtype),
            f"b{i}_wq": linear(DIM, DIM), f"b{i}_bq": np.zeros(DIM, dtype),
            f"b{i}_wk": linear(DIM, DIM),  # no key bias: softmax would ignore it
            f"b{i}_wv": linear(DIM, DIM), f"b{i}_bv": np.zeros(DIM, dtype),
            f"b{i}_wo": linear(DIM, DIM), f"b{i}_bo": np.zeros(DIM, dtype),
            f"b{i}_ln2_g": np.ones(DIM, dtype), f"b{i}_ln2_b": np.zeros(DIM, dtype),
            f"b{i}_w1": linear(DIM, MLP_HIDDEN), f"b{i}_b1": np.zeros(MLP_HIDDEN, dtype),
            f"b{i}_w2": linear(MLP_HIDDEN, DIM), f"b{i}_b2": np.zeros(DIM, dtype),
        }  # fmt: skip
    p |= {
        "ln_g": np.ones(DIM, dtype), "ln_b": np.zeros(DIM, dtype),
        "head_w": linear(DIM, 10), "head_b": np.zeros(10, dtype),
    }  # fmt: skip
    return p


# --------------------------------------------------------------------------- layers
def layernorm(x, g, b):
    mu = x.mean(axis=-1, keepdims=True)
    xc = x - mu
    rstd = 1 / np.sqrt((xc * xc).mean(axis=-1, keepdims=True) + x.dtype.type(EPS))
    xhat = xc * rstd
    return xhat * g + b, (xhat, rstd, g)


def layernorm_back(dy, cache):
    xhat, rstd, g = cache
    dg = (dy * xhat).sum(axis=(0, 1))
    db = dy.sum(axis=(0, 1))
    dxhat = dy * g
    dx = rstd * (
        dxhat
        - dxhat.mean(axis=-1, keepdims=True)
        - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True)
    )
    return dx, dg, db


def split_heads(t):  # (N, T, D) -> (N, H, T, D/H)
    n, tokens, _ = t.shape
    return t.reshape(n, tokens, HEADS, DIM // HEADS).transpose(0, 2, 1, 3)


def merge_heads(t):  # (N, H, T, D/H) -> (N, T, D)
    n, _, tokens, _ = t.shape
    return t.transpose(0, 2, 1, 3).reshape(n, tokens, DIM)


def attention(h, p, i):
    scale = h.dtype.type(1.0 / np.sqrt(DIM // HEADS))
    q = split_heads(h @ p[f"b{i}_wq"] + p[f"b{i}_bq"])
    k = split_heads(h @ p[f"b{i}_wk"])
    v = split_heads(h @ p[f"b{i}_wv"] + p[f"b{i}_bv"])
    s = (q @ k.transpose(0, 1, 3, 2)) * scale
    s = s - s.max(axis=-1, keepdims=True)
    a = np.exp(s)
    a /= a.sum(axis=-1, keepdims=True)
    o = merge_heads(a @ v)
    return o @ p[f"b{i}_wo"] + p[f"b{i}_bo"], (h, q, k, v, a, o, scale)


def attention_back(dout, cache, p, i, g):
    h, q, k, v, a, o, scale = cache
    g[f"b{i}_wo"] = flat(o).T @ flat(dout)
    g[f"b{i}_bo"] = dout.sum(axis=(0, 1))
    do = split_heads(dout @ p[f"b{i}_wo"].T)
    da = do @ v.transpose(0, 1, 3, 2)
    dv = a.transpose(0, 1, 3, 2) @ do
    ds = a * (da - (da * a).sum(axis=-1, keepdims=True)) * scale  # softmax backward
    dq = merge_heads(ds @ k)
    dk = merge_heads(ds.transpose(0, 1, 3, 2) @ q)
    dv = merge_heads(dv)
    dh = np.zeros_like(h)
    for name, d in (("q", dq), ("k", dk), ("v", dv)):
        g[f"b{i}_w{name}"] = flat(h).T @ flat(d)
        if name != "k":
            g[f"b{i}_b{name}"] = d.sum(axis=(0, 1))
        dh += d @ p[f"b{i}_w{name}"].T
    return dh


def flat(t):  # (N, T, C) -> (N*T, C)
    return t.reshape(-1, t.shape[-1])


def forward(p, tokens):
    """Logits and everything the backward pass needs."""
    caches = []
    x = tokens @ p["patch_w"] + p["patch_b"] + p["pos"]
    for i in range(DEPTH):
        h, ln1 = layernorm(x, p[f"b{i}_ln1_g"], p[f"b{i}_ln1_b"])
        att, att_cache = attention(h, p, i)
        x = x + att
        h2, ln2 = layernorm(x, p[f"b{i}_ln2_g"], p[f"b{i}_ln2_b"])
        z = h2 @ p[f"b{i}_w1"] + p[f"b{i}_b1"]
        r = np.maximum(z, 0)
        x = x + r @ p[f"b{i}_w2"] + p[f"b{i}_b2"]
        caches.append((ln1, att_cache, ln2, h2, z, r))
    y, lnf = layernorm(x, p["ln_g"], p["ln_b"])
    pooled = y.mean(axis=1)
    logits = pooled @ p["head_w"] + p["head_b"]
    return logits, (tokens, caches, lnf, pooled)


def gradients(p, tokens, t):
    """Softmax cross-entropy averaged over the batch; its gradient for every parameter."""
    logits, (tokens, caches, lnf, pooled) = forward(p, tokens)
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n = len(tokens)
    loss = -(t * logp).sum() / n
    dz = (np.exp(logp) - t) / logits.dtype.type(n)
    g: dict[str, np.ndarray] = {"head_w": pooled.T @ dz, "head_b": dz.sum(axis=0)}
    dpooled = dz @ p["head_w"].T
    dy = np.broadcast_to(dpooled[:, None, :] / dz.dtype.type(tokens.shape[1]), lnf[0].shape)
    dx, g["ln_g"], g["ln_b"] = layernorm_back(dy, lnf)
    for i in reversed(range(DEPTH)):
        ln1, att_cache, ln2, h2, z1, r = caches[i]
        # MLP branch: x = x + relu(h2 @ w1 + b1) @ w2 + b2
        g[f"b{i}_w2"] = flat(r).T @ flat(dx)
        g[f"b{i}_b2"] = dx.sum(axis=(0, 1))
        dz1 = (dx @ p[f"b{i}_w2"].T) * (z1 > 0)
        g[f"b{i}_w1"] = flat(h2).T @ flat(dz1)
        g[f"b{i}_b1"] = dz1.sum(axis=(0, 1))
        dh2, g[f"b{i}_ln2_g"], g[f"b{i}_ln2_b"] = layernorm_back(dz1 @ p[f"b{i}_w1"].T, ln2)
        dx = dx + dh2
        # attention branch: x = x + attention(layernorm(x))
        dh = attention_back(dx, att_cache, p, i, g)
        dh1, g[f"b{i}_ln1_g"], g[f"b{i}_ln1_b"] = layernorm_back(dh, ln1)
        dx = dx + dh1
    g["pos"] = dx.sum(axis=0)
    g["patch_w"] = flat(tokens).T @ flat(dx)
    g["patch_b"] = dx.sum(axis=(0, 1))
    return loss, g


# --------------------------------------------------------------------------- training
def decays(name: str) -> bool:
    """Weight decay on the weight matrices; not on biases, norms or the position embedding."""
    return name.split("_")[-1] in ("w", "wq", "wk", "wv", "wo", "w1", "w2")


def train(x: np.ndarray, y: np.ndarray, log: bool = False) -> dict[str, np.ndarray]:
    """AdamW on softmax cross-entropy, linear warm-up then cosine decay per step, float32."""
    rng = np.random.default_rng(SEED)
    params = init_params(rng)
    m = {k: np.zeros_like(a) for k, a in params.items()}  # first moments
    v = {k: np.zeros_like(a) for k, a in params.items()}  # second moments
    onehot = np.eye(10, dtype=np.float32)[y]
    b1, b2 = np.float32(BETAS[0]), np.float32(BETAS[1])
    one, eps = np.float32(1.0), np.float32(1e-8)
    steps_per_epoch = -(-len(x) // BATCH)
    total, warmup = EPOCHS * steps_per_epoch, WARMUP_EPOCHS * steps_per_epoch
    step = 0
    started = time.perf_counter()
    for epoch in range(EPOCHS):
        xs = shifted(x, rng)
        order = rng.permutation(len(x))
        losses = []
        for start in range(0, len(x), BATCH):
            idx = order[start : start + BATCH]
            loss, grads = gradients(params, patchify(xs[idx]), onehot[idx])
            losses.append(loss)
            step += 1
            if step <= warmup:
                lr = LR * step / warmup
            else:
                lr = LR * 0.5 * (1 + np.cos(np.pi * (step - warmup) / (total - warmup)))
            lr = np.float32(lr)
            c1 = np.float32(1 - BETAS[0] ** step)
            c2 = np.float32(1 - BETAS[1] ** step)
            for k in params:
                m[k] = b1 * m[k] + (one - b1) * grads[k]
                v[k] = b2 * v[k] + (one - b2) * grads[k] * grads[k]
                update = (m[k] / c1) / (np.sqrt(v[k] / c2) + eps)
                if decays(k):
                    update = update + np.float32(WEIGHT_DECAY) * params[k]
                params[k] = params[k] - lr * update
        if log:
            print(f"epoch {epoch + 1:3d}  loss {np.mean(losses):.4f}  "
                  f"{time.perf_counter() - started:6.1f} s", flush=True)  # fmt: skip
    assert all(a.dtype == np.float32 for a in params.values())
    return params


def accuracy(p: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    hits = 0
    for start in range(0, len(x), 500):
        logits, _ = forward(p, patchify(x[start : start + 500]))
        hits += int(np.sum(np.argmax(logits, axis=1) == y[start : start + 500]))
    return hits / len(x)


def gradient_check() -> int:
    """Backprop against central differences, in float64 on a few random inputs."""
    rng = np.random.default_rng(0)
    p = init_params(rng, dtype=np.float64)
    for k in p:  # move LayerNorm and biases off their initial values too
        p[k] = p[k] + 0.1 * rng.standard_normal(p[k].shape)
    tokens = rng.random((3, (SIDE // PATCH) ** 2, PATCH * PATCH))
    t = np.eye(10)[rng.integers(0, 10, 3)]
    _, g = gradients(p, tokens, t)
    worst = 0.0
    for k in sorted(p):
        flat_p = p[k].reshape(-1)
        for j in rng.choice(flat_p.size, size=min(5, flat_p.size), replace=False):
            old = flat_p[j]
            flat_p[j] = old + 1e-6
            plus, _ = gradients(p, tokens, t)
            flat_p[j] = old - 1e-6
            minus, _ = gradients(p, tokens, t)
            flat_p[j] = old
            num = (plus - minus) / 2e-6
            ana = g[k].reshape(-1)[j]
            rel = abs(num - ana) / max(1e-6, abs(num) + abs(ana))
            worst = max(worst, rel)
    print(f"gradient check: worst relative error {worst:.2e} over {len(p)} parameter arrays")
    return 0 if worst < 1e-5 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with weights.npz")
    parser.add_argument("--gradcheck", action="store_true", help="check backprop numerically")
    parser.add_argument("--verbose", action="store_true", help="print the loss every epoch")
    args = parser.parse_args(argv)
    if args.gradcheck:
        return gradient_check()
    rules = load_rules()
    workload = get_workload(rules, "transformer_decathlon")
    images, labels = load_split(rules, workload.dataset, "train")
    x = as_inputs(images, workload)
    params = train(x, labels, log=args.verbose)
    test_images, test_labels = load_split(rules, workload.dataset, "test")
    return reproduce.save_or_check(
        HERE,
        params,
        args.check,
        accuracy(params, x, labels),
        accuracy(params, as_inputs(test_images, workload), test_labels),
        workload.baseline_accuracy,
    )


if __name__ == "__main__":
    raise SystemExit(main())
