"""Train the tinytalks baseline reproducibly: same seed, same bytes of weights.npz.

    python baselines/tinytalks/train.py               # retrain, overwrite weights.npz
    python baselines/tinytalks/train.py --check       # retrain in memory, compare
    python baselines/tinytalks/train.py --gradcheck   # backprop vs numerical gradient

Training follows the CPU's SIMD kernels, so the script pins them before NumPy loads (one
BLAS thread, OpenBLAS's kernels as recorded in weights.env.json): the committed bytes come
back on any x86-64 CPU with AVX2. Elsewhere --check judges what holds on every machine
(the held-out accuracy and the weights within a stated tolerance: grader/data/reproduce.py).
The held-out accuracy here is the teacher-forced next-character accuracy on the test split's
answers (evaluate.py); the README records the perplexity, exact match and F1 beside it.

The training text is each pair of the train split as ``Q: <question>\\nA: <answer>\\n``, one
sequence per pair starting at position 0 (where a prompt starts when the model generates),
teacher-forced on every character. The backward pass is written by hand, layer by layer,
mirroring the forward pass of ``model.py``; ``--gradcheck`` compares it with central finite
differences in float64.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from grader.data import reproduce

HERE = Path(__file__).resolve().parent
reproduce.pin(HERE)  # BLAS threads and kernels, before NumPy loads

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from grader.config import project_root  # noqa: E402
from grader.data import text  # noqa: E402

SEED = 1234
EPOCHS = 100
BATCH = 16
LR = 1e-3
WARMUP_EPOCHS = 3
WEIGHT_DECAY = 0.1  # decoupled (AdamW), on the weight matrices only
DROPOUT = 0.2  # of the embeddings and of each residual branch's output, in training only
BETAS = (0.9, 0.99)
DIM, HEADS, MLP_HIDDEN, DEPTH, CONTEXT = 64, 4, 256, 2, 128
VOCAB = text.VOCAB_SIZE
EPS = 1e-5


def sibling(name: str):
    """This folder's ``name.py`` as a module of its own name (no clash with other baselines')."""
    spec = importlib.util.spec_from_file_location(f"tinytalks_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- parameters
def init_params(rng: np.random.Generator, dtype=np.float32) -> dict[str, np.ndarray]:
    """Linear layers ~ N(0, 1/fan_in), the two that write into the residual stream scaled by
    1/sqrt(2 * DEPTH); positions ~ N(0, 0.02^2), tokens ~ N(0, 0.1^2) (they are also the
    output head); LayerNorm gain 1, shift 0; biases 0."""

    def normal(shape: tuple[int, ...], scale: float) -> np.ndarray:
        return (rng.standard_normal(shape, dtype=np.float32) * np.float32(scale)).astype(dtype)

    def linear(fan_in: int, fan_out: int, out: float = 1.0) -> np.ndarray:
        return normal((fan_in, fan_out), out / np.sqrt(fan_in))

    residual = 1 / np.sqrt(2 * DEPTH)
    p = {"tok": normal((VOCAB, DIM), 0.1), "pos": normal((CONTEXT, DIM), 0.02)}
    for i in range(DEPTH):
        p |= {
            f"b{i}_ln1_g": np.ones(DIM, dtype), f"b{i}_ln1_b": np.zeros(DIM, dtype),
            f"b{i}_wq": linear(DIM, DIM), f"b{i}_bq": np.zeros(DIM, dtype),
            f"b{i}_wk": linear(DIM, DIM),  # no key bias: softmax would ignore it
            f"b{i}_wv": linear(DIM, DIM), f"b{i}_bv": np.zeros(DIM, dtype),
            f"b{i}_wo": linear(DIM, DIM, residual), f"b{i}_bo": np.zeros(DIM, dtype),
            f"b{i}_ln2_g": np.ones(DIM, dtype), f"b{i}_ln2_b": np.zeros(DIM, dtype),
            f"b{i}_w1": linear(DIM, MLP_HIDDEN), f"b{i}_b1": np.zeros(MLP_HIDDEN, dtype),
            f"b{i}_w2": linear(MLP_HIDDEN, DIM, residual), f"b{i}_b2": np.zeros(DIM, dtype),
        }  # fmt: skip
    p |= {"ln_g": np.ones(DIM, dtype), "ln_b": np.zeros(DIM, dtype),
          "head_b": np.zeros(VOCAB, dtype)}  # fmt: skip
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
    """Causal multi-head attention: a token attends to itself and the tokens before it."""
    scale = h.dtype.type(1.0 / np.sqrt(DIM // HEADS))
    q = split_heads(h @ p[f"b{i}_wq"] + p[f"b{i}_bq"])
    k = split_heads(h @ p[f"b{i}_wk"])
    v = split_heads(h @ p[f"b{i}_wv"] + p[f"b{i}_bv"])
    s = (q @ k.transpose(0, 1, 3, 2)) * scale
    t = h.shape[1]
    s = np.where(np.triu(np.ones((t, t), dtype=bool), k=1), h.dtype.type(-np.inf), s)
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
    ds = a * (da - (da * a).sum(axis=-1, keepdims=True)) * scale  # softmax backward; 0 masked
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


def dropout(t, rng):
    """``t`` with a fraction DROPOUT of its values zeroed and the rest scaled up to keep the
    mean (inverted dropout), and the mask; ``t`` itself without ``rng`` (evaluation)."""
    if rng is None or DROPOUT == 0:
        return t, None
    keep = rng.random(t.shape, dtype=np.float32) >= np.float32(DROPOUT)
    mask = keep.astype(t.dtype) * t.dtype.type(1 / (1 - DROPOUT))
    return t * mask, mask


def undrop(d, mask):
    return d if mask is None else d * mask


def forward(p, ids, rng=None):
    """Logits (N, T, VOCAB) of token ids (N, T), and everything the backward pass needs;
    with ``rng``, dropout as in training."""
    caches = []
    x, drop0 = dropout(p["tok"][ids] + p["pos"][: ids.shape[1]], rng)
    for i in range(DEPTH):
        h, ln1 = layernorm(x, p[f"b{i}_ln1_g"], p[f"b{i}_ln1_b"])
        att, att_cache = attention(h, p, i)
        att, drop1 = dropout(att, rng)
        x = x + att
        h2, ln2 = layernorm(x, p[f"b{i}_ln2_g"], p[f"b{i}_ln2_b"])
        z = h2 @ p[f"b{i}_w1"] + p[f"b{i}_b1"]
        r = np.maximum(z, 0)
        mlp, drop2 = dropout(r @ p[f"b{i}_w2"] + p[f"b{i}_b2"], rng)
        x = x + mlp
        caches.append((ln1, att_cache, drop1, ln2, h2, z, r, drop2))
    y, lnf = layernorm(x, p["ln_g"], p["ln_b"])
    return y @ p["tok"].T + p["head_b"], (ids, drop0, caches, lnf, y)


def gradients(p, ids, targets, weights, rng=None):
    """Cross-entropy of ``targets`` (N, T) averaged with ``weights`` (N, T: 1 on a scored
    position, 0 on padding); its gradient for every parameter (dropout drawn from ``rng``)."""
    logits, (ids, drop0, caches, lnf, y) = forward(p, ids, rng)
    z = logits - logits.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    total = weights.sum()
    picked = np.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
    loss = -(picked * weights).sum() / total
    dz = np.exp(logp)
    np.put_along_axis(
        dz, targets[..., None], np.take_along_axis(dz, targets[..., None], -1) - 1, -1
    )
    dz *= (weights / total)[..., None]
    onehot = np.eye(VOCAB, dtype=p["tok"].dtype)
    g: dict[str, np.ndarray] = {"head_b": dz.sum(axis=(0, 1)), "tok": flat(dz).T @ flat(y)}
    dx, g["ln_g"], g["ln_b"] = layernorm_back(dz @ p["tok"], lnf)
    for i in reversed(range(DEPTH)):
        ln1, att_cache, drop1, ln2, h2, z1, r, drop2 = caches[i]
        # MLP branch: x = x + dropout(relu(h2 @ w1 + b1) @ w2 + b2)
        dmlp = undrop(dx, drop2)
        g[f"b{i}_w2"] = flat(r).T @ flat(dmlp)
        g[f"b{i}_b2"] = dmlp.sum(axis=(0, 1))
        dz1 = (dmlp @ p[f"b{i}_w2"].T) * (z1 > 0)
        g[f"b{i}_w1"] = flat(h2).T @ flat(dz1)
        g[f"b{i}_b1"] = dz1.sum(axis=(0, 1))
        dh2, g[f"b{i}_ln2_g"], g[f"b{i}_ln2_b"] = layernorm_back(dz1 @ p[f"b{i}_w1"].T, ln2)
        dx = dx + dh2
        # attention branch: x = x + dropout(attention(layernorm(x)))
        dh = attention_back(undrop(dx, drop1), att_cache, p, i, g)
        dh1, g[f"b{i}_ln1_g"], g[f"b{i}_ln1_b"] = layernorm_back(dh, ln1)
        dx = dx + dh1
    dx = undrop(dx, drop0)
    g["pos"] = np.zeros_like(p["pos"])
    g["pos"][: ids.shape[1]] = dx.sum(axis=0)
    g["tok"] = g["tok"] + onehot[ids.reshape(-1)].T @ flat(dx)  # the embedding's share
    return loss, g


# --------------------------------------------------------------------------- training
def batch_of(records: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs, targets and weights (N, T) of token sequences, padded at the end (a causal
    model's earlier positions never see the padding, and its targets weigh 0)."""
    t = max(len(r) for r in records) - 1
    ids = np.zeros((len(records), t), dtype=np.int64)
    targets = np.zeros_like(ids)
    weights = np.zeros((len(records), t), dtype=np.float32)
    for row, r in enumerate(records):
        ids[row, : len(r) - 1], targets[row, : len(r) - 1] = r[:-1], r[1:]
        weights[row, : len(r) - 1] = 1
    return ids, targets, weights


def decays(name: str) -> bool:
    """Weight decay on the weight matrices; not on biases, norms or the embeddings."""
    return name.split("_")[-1] in ("wq", "wk", "wv", "wo", "w1", "w2")


def train(pairs: list[text.Pair], log: bool = False) -> dict[str, np.ndarray]:
    """AdamW on next-character cross-entropy, linear warm-up then cosine decay, float32."""
    rng = np.random.default_rng(SEED)
    params = init_params(rng)
    records = [text.encode(text.record(pair), strict=True) for pair in pairs]
    m = {k: np.zeros_like(a) for k, a in params.items()}  # first moments
    v = {k: np.zeros_like(a) for k, a in params.items()}  # second moments
    b1, b2, one, eps = (np.float32(x) for x in (*BETAS, 1.0, 1e-8))
    steps_per_epoch = -(-len(records) // BATCH)
    total, warmup = EPOCHS * steps_per_epoch, WARMUP_EPOCHS * steps_per_epoch
    step, started = 0, time.perf_counter()
    for epoch in range(EPOCHS):
        order = rng.permutation(len(records))
        losses = []
        for start in range(0, len(records), BATCH):
            batch = batch_of([records[j] for j in order[start : start + BATCH]])
            loss, grads = gradients(params, *batch, rng)
            losses.append(loss)
            step += 1
            lr = (
                LR * step / warmup
                if step <= warmup
                else (LR * 0.5 * (1 + np.cos(np.pi * (step - warmup) / (total - warmup))))
            )
            lr = np.float32(lr)
            c1, c2 = np.float32(1 - BETAS[0] ** step), np.float32(1 - BETAS[1] ** step)
            for k in params:
                m[k] = b1 * m[k] + (one - b1) * grads[k]
                v[k] = b2 * v[k] + (one - b2) * grads[k] * grads[k]
                update = (m[k] / c1) / (np.sqrt(v[k] / c2) + eps)
                if decays(k):
                    update = update + np.float32(WEIGHT_DECAY) * params[k]
                params[k] = params[k] - lr * update
        if log:
            print(f"epoch {epoch + 1:4d}  loss {np.mean(losses):.4f}  "
                  f"{time.perf_counter() - started:6.1f} s", flush=True)  # fmt: skip
    assert all(a.dtype == np.float32 for a in params.values())
    return params


def gradient_check() -> int:
    """Backprop against central differences, in float64 on a few random sequences."""
    rng = np.random.default_rng(0)
    p = init_params(rng, dtype=np.float64)
    for k in p:  # move LayerNorm and biases off their initial values too
        p[k] = p[k] + 0.1 * rng.standard_normal(p[k].shape)
    records = [rng.integers(0, VOCAB, size) for size in (9, 6, 4)]
    batch = batch_of(records)

    def masks() -> np.random.Generator:  # the same dropout masks in every evaluation
        return np.random.default_rng(1)

    _, g = gradients(p, *batch, masks())
    worst = 0.0
    for k in sorted(p):
        flat_p = p[k].reshape(-1)
        for j in rng.choice(flat_p.size, size=min(5, flat_p.size), replace=False):
            old = flat_p[j]
            flat_p[j] = old + 1e-6
            plus, _ = gradients(p, *batch, masks())
            flat_p[j] = old - 1e-6
            minus, _ = gradients(p, *batch, masks())
            flat_p[j] = old
            num = (plus - minus) / 2e-6
            ana = g[k].reshape(-1)[j]
            worst = max(worst, abs(num - ana) / max(1e-4, abs(num) + abs(ana)))
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
    folder = project_root() / "data" / "tinytalks"
    params = train(text.load_split(folder, "train"), log=args.verbose)
    evaluate, model = sibling("evaluate"), sibling("model")
    net = model.from_arrays(params)
    scores = {s: evaluate.answer_scores(net, text.load_split(folder, s)) for s in ("train", "test")}
    print(json.dumps({s: r.summary() for s, r in scores.items()}, sort_keys=True))
    recorded = (reproduce.recorded(HERE) or {}).get("held_out_accuracy", scores["test"].accuracy)
    return reproduce.save_or_check(
        HERE, params, args.check, scores["train"].accuracy, scores["test"].accuracy, recorded
    )


if __name__ == "__main__":
    raise SystemExit(main())
