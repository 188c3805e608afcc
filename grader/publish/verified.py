"""The results store's verification cache: what :func:`grader.publish.store.latest` verified.

Recomputing a result costs about 0.1 s (the bootstraps of its intervals), so reading 10,000
of them each time would take minutes. A result whose exact bytes were verified before, under
the same grader, dependencies and rules, is not verified again: the cache maps the sha256 of
the bytes to what the leaderboard reads of them (:func:`slim`). An edited file has other
bytes and is verified afresh. The cache lives beside the results and is never committed
(.gitignore): nobody who can edit the repository can vouch for a result through it.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from grader import __version__
from grader.config import Rules
from grader.result import dependencies

CACHE = ".verified.json"


SLIM_SUBMISSION = ("team", "workload", "events", "members", "techniques_claimed",
                   "content_sha256")  # fmt: skip
SLIM_EVENT = ("qualified", "scored", "score", "score_ci95", "score_metric", "reason")
SLIM_TECHNIQUES = ("confirmed", "unconfirmed", "unclaimed", "uncheckable", "unknown")
SLIM_SPEEDUP = ("speedup", "speedup_ci95")
# What slim() keeps changes with the grader's code, not only its version: a cache of another
# shape is not read (an older one lacks what the chart draws now).
SLIM_SHAPE = 2


def slim(doc: dict) -> dict:
    """What the leaderboard, the chart and the grade book read of a result, and no more."""
    kept = {k: doc[k] for k in ("flags", "timestamp", "verdict") if k in doc}
    grader = doc.get("grader", {})  # what stale_reason reads: not the commit
    kept["grader"] = {
        k: grader[k] for k in ("version", "dependencies_sha256", "rules_sha256") if k in grader
    }
    kept["submission"] = {k: v for k, v in doc["submission"].items() if k in SLIM_SUBMISSION}
    if "improvements" in doc:  # the chart's x axis: the speedup and its interval
        imp = doc["improvements"]
        kept["improvements"] = {k: imp.get(k) for k in ("accuracy_split", *SLIM_SPEEDUP)}
    protocol = (doc.get("measurement") or {}).get("protocol")
    if protocol == "generation":  # which axes the chart draws: absent, the digits'
        kept["measurement"] = {"protocol": protocol}
    if "techniques" in doc:
        kept["techniques"] = {k: v for k, v in doc["techniques"].items() if k in SLIM_TECHNIQUES}
    if "events" in doc:
        kept["events"] = {
            name: {k: ev[k] for k in SLIM_EVENT if k in ev}
            | {"rules": [r for r in ev.get("rules", []) if not r["passed"]]}
            for name, ev in doc["events"].items()
        }
    for side in ("baseline", "optimized"):
        if side in doc:
            m = doc[side]["metrics"]
            latency = {"median": m["latency_ms"]["median"]}
            if side == "baseline":  # the chart's interval about 1×
                latency["median_ci95"] = m["latency_ms"].get("median_ci95")
            kept[side] = {
                "metrics": {"accuracy": m["accuracy"], "size_bytes": m["size_bytes"],
                            "latency_ms": latency}
                | ({"perplexity": m["perplexity"]} if "perplexity" in m else {})
            }  # fmt: skip
    return kept


def cache_key(rules: Rules) -> str:
    # the dependencies too: a result is recomputed (bootstraps, SciPy's p-values) by them
    return f"{__version__}:{dependencies.fingerprint()}:{rules.sha256}:{SLIM_SHAPE}"


def load_cache(
    root: Path, rules: Rules, name: str = CACHE
) -> tuple[dict[str, dict], dict[str, list]]:
    """The verified entries by sha256, and each file's [size, mtime_ns, sha256] when last
    read; empty for another grader, other dependencies or other rules. ``name``: the cache
    file (the history's, :mod:`grader.publish.history`, keeps rows of its own)."""
    try:
        data = orjson.loads((root / name).read_bytes())  # 16 MB at 10,000 results
    except (OSError, orjson.JSONDecodeError):
        return {}, {}
    if not isinstance(data, dict) or data.get("key") != cache_key(rules):
        return {}, {}
    entries, files = data.get("entries"), data.get("files")
    return (
        entries if isinstance(entries, dict) else {},
        files if isinstance(files, dict) else {},
    )


def save_cache(
    root: Path,
    rules: Rules,
    entries: dict[str, dict],
    files: dict[str, list] | None = None,
    name: str = CACHE,
) -> None:
    tmp = root / f".{name}.tmp"
    try:
        data = {"key": cache_key(rules), "entries": entries, "files": files or {}}
        tmp.write_bytes(orjson.dumps(data))
        os.replace(tmp, root / name)
    except OSError:
        pass  # a read-only store is still read, only not faster next time
