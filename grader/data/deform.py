"""Per-grade deformations of the held-out images: no presentation that a table could hold.

Every held-out digit of the bundled data is public (README, "Data"), so a submission could
carry a table of them, keyed on their pixels, and look answers up instead of computing
them: the noise under half a grey level that every presentation carries leaves a
binarised image intact. A table keyed on the undeformed public test digits answers every
timed sample, new or repeated, from memory (5x, accuracy 1.0). So before
the referee sees them, each held-out image is moved by a small affine map drawn per grade
from the grade's seed: shifted by up to ``shift_px`` each way, turned by up to
``rotate_deg``, scaled by up to ``scale``, resampled bilinearly about the image's centre
and rounded back to the 8-bit grid. The digit stays the digit (its label holds); its
bytes, and its binarised image, are those of no public image.

Measured on the 1,000 public test digits under 3 seeds (±0.5 px, ±2°, ±2 %): no deformed
digit's binarised image (``x > 0``) equals a public one's, under 1 % do at ``x > 0.5``;
the baselines' accuracies 0.932-0.942 (MLP; 0.943 undeformed), 0.950-0.958 (CNN; 0.958),
0.961-0.970 (ViT; 0.964), each example submission's equal to its baseline's within 0.001.
A nearest-neighbour search over the public digits still finds them: that is a model, and
it pays for its own compute (and its accuracy far above the baseline's is flagged).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage


def deform(images: np.ndarray, spec: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    """``images`` (uint8, one row an image of ``spec["shape"]``), each moved by its own
    random affine map (module doc); the same shape and dtype."""
    shape = tuple(spec["shape"])
    flat = np.asarray(images)
    if flat.dtype != np.uint8 or flat.ndim != 2 or flat.shape[1] != int(np.prod(shape)):
        raise ValueError(f"expected uint8 rows of {shape} images; found {flat.dtype} {flat.shape}")
    n = len(flat)
    shifts = rng.uniform(-spec["shift_px"], spec["shift_px"], (n, 2))
    angles = np.deg2rad(rng.uniform(-spec["rotate_deg"], spec["rotate_deg"], n))
    scales = 1 + rng.uniform(-spec["scale"], spec["scale"], n)
    centre = (np.asarray(shape, dtype=np.float64) - 1) / 2
    out = np.empty_like(flat)
    for i in range(n):
        # affine_transform maps each output pixel o to the input at matrix @ o + offset:
        # the inverse of "turn and scale about the centre, then shift".
        c, s = np.cos(angles[i]) / scales[i], np.sin(angles[i]) / scales[i]
        matrix = np.array([[c, -s], [s, c]])
        offset = centre - matrix @ (centre + shifts[i])
        moved = ndimage.affine_transform(
            flat[i].reshape(shape).astype(np.float64), matrix, offset=offset, order=1,
            mode="constant", cval=0.0,
        )  # fmt: skip
        out[i] = np.clip(np.rint(moved), 0, 255).astype(np.uint8).reshape(-1)
    return out
