"""What a test reads of a rendered Markdown table: where GitHub splits its rows."""

from __future__ import annotations

import re


def unescaped_pipes(row: str) -> int:
    """The pipes GitHub splits a table row at: those without a backslash before them (its
    scanner reads a cell as the longest run of escaped characters and others but a pipe, so
    a pipe after any backslash stays in the cell)."""
    return len(re.findall(r"(?<!\\)\|", row))
