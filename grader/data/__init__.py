"""The workloads' data: the registry of workloads and their fingerprinted splits, the
per-grade deformation of the held-out digits, the sealed private split, and the
reproduction of the baselines' weights (docs/DESIGN.md, Data).
"""
