"""What runs in the submission's sandboxed process: the worker that builds the model and
answers blocks, the operating-system layers and the audit hook it installs first, and the
wire protocol and hand-over page it shares with the parent. It imports no other grader
module (pyproject.toml, [tool.importlinter]; docs/DESIGN.md, Trust boundaries).
"""
