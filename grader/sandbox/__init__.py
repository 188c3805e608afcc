"""The parent's side of the sandbox: launching a child (``launch``, in its private copy:
``workdir``), the handle on it (``handle``: messages, hand-over, signals) over its pipes
(``channel``), the /proc probes (``probes``), what a dead or misbehaving child means as a
verdict (``verdicts``), and what the referee uses of a child (``process``). See
docs/DESIGN.md, Trust boundaries.
"""
