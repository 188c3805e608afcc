"""The score card's note on a busy machine: where the models waited for a CPU for much of
the time they were ready to run, their speedup runs high (docs/DESIGN.md, Measurement: CPU
wait)."""

from __future__ import annotations

# From this share of their ready time spent waiting for a CPU, the card says the machine was
# busy; below it, no note.
BUSY_SHARE = 0.10


def busy_notes(result: dict) -> list[str]:
    """A note where the models waited for a CPU for ``BUSY_SHARE`` of their ready time or
    more (``measurement.cpu_wait_share``; absent from results graded before it)."""
    share = result["measurement"].get("cpu_wait_share")
    if share is None or share < BUSY_SHARE:
        return []
    return [
        f"the machine was busy: the models waited for a CPU {share:.0%} of the time they were "
        "ready to run; a busy machine stretches a slow model's long blocks more than a fast "
        "one's short ones, so speedups run high: grade again on an idle machine"
    ]
