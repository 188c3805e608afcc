"""TinyTorch Olympics grader: a referee for NumPy models.

Kept import-free on purpose: the child imports ``grader.child.worker`` (its bootstrap:
grader/sandbox/launch.py), which runs this file first, and must not pull the parent's
modules (labels, rules, rendering) into the submission's process.
"""

__version__ = "0.3.0"
