"""TinyTorch Olympics grader: a referee for NumPy models.

Kept import-free on purpose: the worker child runs ``python -m grader.child.worker`` and must
not pull the parent's modules (labels, rules, rendering) into the submission's process.
"""

__version__ = "0.3.0"
