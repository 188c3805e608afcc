"""What each block shows (grader/measure/inputs.py): every presentation carries fresh
noise under half a grey level, none at either end of the range, and no input is the same
bytes twice (docs/DESIGN.md, Measurement).
"""

from __future__ import annotations

import numpy as np
from fakechild import PLAN, images_and_labels, measure

from grader.measure.inputs import Inputs


def test_every_presentation_carries_noise_the_first_pass_too(fake) -> None:
    """On the 8-bit grid a noiseless first pass could be told from the rest, and a model
    be honest there only (8 digits from a table score 0.951 against the model's 0.943,
    inside the agreement bar). docs/DESIGN.md, Answer checks."""
    seen = fake.seen
    images, _ = images_and_labels()
    measure(fake)
    exact = {row.tobytes() for row in images}
    assert not exact & set(seen["submission"])


def test_noise_moves_no_pixel_at_either_end_of_the_range() -> None:
    """A model that binarises its input (``x > 0``) must see the same image every time:
    unclipped noise would turn half the background on, and such a model would agree with
    its first answers on a quarter of the digits. Pixels in between
    move by less than half a grey level and stay in [0, 1]."""
    from grader.config import load_rules
    from grader.data.workloads import as_inputs, get_workload, load_split

    rules = load_rules()
    workload = get_workload(rules, "mlp_sprint")
    images, _ = load_split(rules, workload.dataset, "test")
    x = as_inputs(images, workload)
    inputs = Inputs(x, PLAN, np.random.default_rng(5))
    moved = inputs.noisy(np.arange(len(x)))
    ends = (x == 0) | (x == 1)
    assert ends.mean() > 0.8  # most of a digit is background
    assert (moved[ends] == x[ends]).all()
    assert np.array_equal(moved > 0, x > 0) and np.array_equal(moved >= 1, x >= 1)
    step = np.abs(moved - x)[~ends]
    assert 0 < step.max() < 0.5 / 255 and (step > 0).mean() > 0.99
    assert moved.min() >= 0 and moved.max() <= 1
    # Never the same bytes: every digit has pixels in between, and they moved.
    assert all(a.tobytes() != b.tobytes() for a, b in zip(moved, x, strict=True))
    decoys = inputs.decoys(100)
    assert decoys.min() >= 0 and decoys.max() <= 1
