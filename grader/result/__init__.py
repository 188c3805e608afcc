"""The result document: built from a grade's observations, derived (every published number
recomputed on read), checked and stored; older results read through the legacy readers
(docs/DESIGN.md, Owners of the numbers).
"""
