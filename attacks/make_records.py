"""Write attacks/<name>/records.npz: the token ids of every record that can open a walk
(the test split's pairs and every composed candidate), concatenated, with their ends."""

import sys
from pathlib import Path

import numpy as np

from grader.data import probes, text

out = Path(sys.argv[1])
pairs = list(text.load_split(probes.DATA, "test"))
for kind in probes.candidates().values():
    pairs += kind
ids = [text.encode(text.record(p)) for p in pairs]
ends = np.cumsum([len(i) for i in ids])
np.savez(out, ids=np.concatenate(ids).astype(np.int8), ends=ends.astype(np.int32))
print(len(pairs), "records,", int(ends[-1]), "characters")
