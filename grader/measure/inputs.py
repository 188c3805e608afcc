"""What each block shows: the held-out inputs with fresh noise, the decoys of the untimed
blocks, and the timed stream of each session (docs/DESIGN.md, Measurement).

Every input presented within a run is distinct: every presentation (the first timed pass
over the held-out images, the further rounds, the batched pass, the warm-up's decoys) adds
fresh noise below half an 8-bit grey level to the pixels strictly between 0 and 1 (see
``Inputs.perturbed``). (The held-out digits themselves are deformed per grade before they
reach the referee: grader/data/deform.py.)

The random stream is the referee's own, shared with every other draw of the grade (the
scored presentations, the layout shifts): one seed reproduces the grade's every choice.
"""

from __future__ import annotations

import numpy as np

from grader.measure import schedule
from grader.measure.plan import Plan


class Inputs:
    """The held-out inputs (noiseless, float32 ``(N, *input_shape)``) and what is shown of
    them; the decoys for everything but the timed rounds."""

    def __init__(
        self,
        images: np.ndarray,
        plan: Plan,
        rng: np.random.Generator,
        private: np.ndarray | None = None,
        decoys: np.ndarray | None = None,
    ) -> None:
        self.plan = plan
        self.rng = rng
        # The decrypted private inputs (the final phase), never their labels, join the
        # held-out ones: the first timed pass shows each of both once, in one
        # random order, and both accuracies come from those answers. After it, only the
        # private inputs are timed: the public ones are published, so a submission could
        # carry a table of their answers and look them up instead of computing.
        self.public_count = len(images)
        if private is not None:
            images = np.concatenate([images, private.astype(np.float32)])
        self.images = images  # float32 (N, *input_shape), the held-out inputs, noiseless
        self.in_shape = tuple(images.shape[1:])
        # What the timed stream repeats after the first pass (see above).
        self.pool = np.arange(self.public_count if private is not None else 0, len(images))
        # Inputs for everything but the timed rounds (see decoys): the training digits,
        # which tell nothing of the held-out ones; or, without them, uniform noise.
        if decoys is None:
            decoys = self.rng.random((256, *self.in_shape), dtype=np.float32)
        self.decoy_images = np.asarray(decoys, dtype=np.float32)

    def perturbed(self, clean: np.ndarray) -> np.ndarray:
        """The same images, never the same bytes: every pixel strictly between 0 and 1
        moves by less than half a grey level (never across either end); a pixel at 0 or 1
        (the background, a full stroke) keeps its value, so that a model that thresholds
        at either end (``x > 0``) sees the very image it saw before. Every held-out digit
        has at least 20 pixels in between."""
        noise = self.rng.uniform(-self.plan.noise, self.plan.noise, clean.shape)
        inside = (clean > 0) & (clean < 1)
        moved = np.clip(clean + np.where(inside, noise, 0.0).astype(np.float32), 0.0, 1.0)
        return moved.astype(np.float32)

    def noisy(self, idx: np.ndarray) -> np.ndarray:
        return self.perturbed(self.images[idx])

    def random_inputs(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        idx = self.rng.choice(len(self.images), n, replace=n > len(self.images))
        return idx, self.noisy(idx)

    def public_sample(self, samples: int) -> np.ndarray:
        """Up to ``samples`` distinct public held-out digits, drawn at random, in order."""
        n = min(samples, self.public_count)
        return np.sort(self.rng.choice(self.public_count, n, replace=False))

    def decoys(self, n: int) -> np.ndarray:
        """Inputs that are not held-out digits, nor can be turned back into them: training
        digits, with noise. The warm-up, the probes and the no-op blocks use these, so that
        each new pair of processes meets the held-out digits first in its timed rounds,
        where a cache's first answers can be told from its later ones. (Held-out digits
        turned upside down or with their pixels shuffled would not do: a model could undo
        the one and recognise the other by its sorted pixels, and compute the answers it
        will be asked for while nothing is timed.)"""
        pool = self.decoy_images
        return self.perturbed(pool[self.rng.choice(len(pool), n, replace=n > len(pool))])

    def schedule(self, k: int, n: int, target: int | None = None) -> schedule.Schedule:
        """Session ``k``'s timed stream (see grader/measure/schedule.py); ``target``: the number of
        rounds the first session ran, which the later ones run."""
        rounds = schedule.Rounds.of(self.plan)
        return schedule.session(self.rng, k, len(self.images), self.pool, n, rounds, target)

    def of_round(self, shown: schedule.Round) -> np.ndarray:
        """A round's inputs: every sample with fresh noise, the first pass's too (on the
        8-bit grid it could be told from the rest, and a model could then be honest
        there only)."""
        return self.noisy(shown.idx)
