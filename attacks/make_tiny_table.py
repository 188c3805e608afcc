"""Write attacks/tiny-table/'s data: a character bigram of the public train split
(bigram.npz) and the public test split's prompts and answers (table.npz)."""

from pathlib import Path

import numpy as np

from grader.data import probes, text

out = Path("attacks/tiny-table")
train = "".join(text.record(p) for p in text.load_split(probes.DATA, "train"))
ids = text.encode(train)
counts = np.ones((text.VOCAB_SIZE, text.VOCAB_SIZE))
np.add.at(counts, (ids[:-1], ids[1:]), 1)
logp = np.log(counts / counts.sum(axis=1, keepdims=True)).astype(np.float32)
np.savez(out / "bigram.npz", logp=logp)
pairs = text.load_split(probes.DATA, "test")
np.savez(
    out / "table.npz",
    chars=np.array(text.CHARACTERS),
    prompts=np.array([text.prompt(p.question) for p in pairs]),
    answers=np.array([p.answer for p in pairs]),
)
