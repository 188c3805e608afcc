"""The score card's hints (docs/DESIGN.md, Hints): the rules of events.yaml's ``hints:`` that
fire on a graded result, the first ``MAX_SHOWN`` by priority, and the ids of the rest.
``grader/hints.py`` decides and words them; ``render.card`` puts them in its model, and the
two functions below draw them for the terminal and for Markdown, escaped for each (a hint
may show a weight array's or a function's name, which the student chose).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from rich.text import Text

from grader import hints
from grader.escape import clean, md

MAX_SHOWN = 3  # on a card; the PR comment is made of cards
HEADING = "Hints (from this grade's numbers; they change no score)"
MAX_CHARS = 600  # of a hint as drawn


class Shown(NamedTuple):
    """What a card shows of the hints: their texts, and the ids of those left off."""

    texts: list[str]
    more: list[str]


def shown(result: Mapping, rules: Sequence[Mapping]) -> Shown:
    """The hints a card shows (none for a rejected result, or where no rule fires)."""
    fired = hints.evaluate(result, rules)
    return Shown([h.text for h in fired[:MAX_SHOWN]], [h.id for h in fired[MAX_SHOWN:]])


def more_line(ids: list[str]) -> str:
    """The line that names the hints left off the card, in priority order."""
    return f"{len(ids)} more: {', '.join(ids)}" if ids else ""


def terminal(hinted: Shown) -> list[Text]:
    """The card's hint lines for the terminal: nothing where none fired."""
    if not hinted.texts:
        return []
    lines = [Text(HEADING, style="bold cyan")]
    lines += [Text(f"→ {clean(h, MAX_CHARS)}", style="cyan") for h in hinted.texts]
    if hinted.more:
        lines.append(Text(more_line(hinted.more), style="cyan"))
    return lines


def markdown(hinted: Shown) -> list[str]:
    """The card's hint lines in Markdown, a blank line first: nothing where none fired."""
    if not hinted.texts:
        return []
    lines = ["", f"**{HEADING}**", ""]
    lines += [f"- 💡 {md(h, MAX_CHARS)}" for h in hinted.texts]
    if hinted.more:
        lines.append(f"- {md(more_line(hinted.more), MAX_CHARS)}")
    return lines
