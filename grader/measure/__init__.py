"""The measurement: the referee that runs sessions and times blocks of the baseline and the
submission in interleaved ABBA order (``referee``), what each block and round shows
(``inputs``, ``schedule``), the answer checks (``answers``), the caching check (``caching``)
and the techniques' ablation (``ablation``) (docs/DESIGN.md, Measurement).
"""
