"""The parent's side of the sandbox: the handle on one child process (start, hand-over,
messages, signals, /proc probes) and what a dead or misbehaving child means as a verdict
(docs/DESIGN.md, Trust boundaries).
"""
