"""The measurement: the referee that runs sessions and times blocks of the baseline and the
submission in interleaved ABBA order, and the schedule of what each round shows
(docs/DESIGN.md, Measurement).
"""
