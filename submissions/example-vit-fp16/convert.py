"""Make weights_fp16.npz from the baseline's weights (run from the repository root):

python submissions/example-vit-fp16/convert.py

Weight matrices become float16; biases and layer-norm parameters stay float32. Each block's
q, k, v projections are fused into one (32, 96) matrix, columns q | k | v, bias [bq | 0 | bv].
The blocks' arrays are stacked (first axis: block). The bytes depend only on the arrays:
deterministic_npz is grader.data.workloads' (copied: a submission may import only NumPy and the
standard library).
"""

import io
import zipfile
from pathlib import Path

import numpy as np

here = Path(__file__).resolve().parent
BLOCK = ("ln1_g", "ln1_b", "wqkv", "bqkv", "wo", "bo", "ln2_g", "ln2_b", "w1", "b1", "w2", "b2")
MATRICES = {"patch_w", "pos", "wqkv", "wo", "w1", "w2", "head_w"}  # stored as float16


def deterministic_npz(**arrays):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, member.getvalue(), compresslevel=9)
    return buf.getvalue()


def convert(w):
    blocks = []
    for i in range(len([k for k in w if k.endswith("_wq")])):
        p = {k.split("_", 1)[1]: a for k, a in w.items() if k.startswith(f"b{i}_")}
        p["wqkv"] = np.concatenate([p["wq"], p["wk"], p["wv"]], axis=1)
        p["bqkv"] = np.concatenate([p["bq"], np.zeros_like(p["bq"]), p["bv"]])
        blocks.append(p)
    arrays = {k: w[k] for k in ("patch_w", "patch_b", "pos")}
    arrays |= {k: np.stack([p[k] for p in blocks]) for k in BLOCK}
    arrays |= {k: w[k] for k in ("ln_g", "ln_b", "head_w", "head_b")}
    return {k: a.astype(np.float16 if k in MATRICES else np.float32) for k, a in arrays.items()}


if __name__ == "__main__":
    baseline = here.parent.parent / "baselines/transformer_decathlon/weights.npz"
    with np.load(baseline, allow_pickle=False) as f:
        weights = {k: f[k] for k in f.files}
    (here / "weights_fp16.npz").write_bytes(deterministic_npz(**convert(weights)))
