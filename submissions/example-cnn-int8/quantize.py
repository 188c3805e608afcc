"""Make weights_int8.npz from the baseline's weights (run from the repository root):

python submissions/example-cnn-int8/quantize.py

The zip writer is grader.data.workloads.deterministic_npz, copied: a submission may import only
NumPy and the standard library.
"""

import io
import zipfile
from pathlib import Path

import numpy as np

here = Path(__file__).resolve().parent
with np.load(here.parent.parent / "baselines/cnn_marathon/weights.npz", allow_pickle=False) as f:
    weights = {k: f[k] for k in f.files}
arrays = {}
for i in (1, 2, 3):
    w = weights[f"w{i}"]  # the output channel is the last axis
    scale = np.abs(w).reshape(-1, w.shape[-1]).max(axis=0) / 127.0  # one per output channel
    arrays[f"q{i}"] = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
    arrays[f"scale{i}"] = scale.astype(np.float32)
    arrays[f"b{i}"] = weights[f"b{i}"]
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
    for name, array in arrays.items():
        member = io.BytesIO()
        np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
        info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, member.getvalue(), compresslevel=9)
(here / "weights_int8.npz").write_bytes(buf.getvalue())
