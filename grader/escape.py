"""Text from a student made inert for each place it is shown: the terminal (control and
bidi characters), GitHub Markdown (HTML, links, emphasis, mentions, table breaks) and
GitHub's workflow commands (annotations). Standard library only: the error records below
every other module render through it.
"""

from __future__ import annotations

import re

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
# A zero-width space (as dependabot writes "@&#8203;user") keeps GitHub from turning the
# text that follows into a mention, an e-mail link or a bare-URL autolink; the entity is
# decoded to the character before GitHub's autolinker and mention filter see the text.
ZWSP = "&#8203;"
AUTOLINK = re.compile(r"(?i)(?<=[a-z])(?=://)|(?<=\bwww)(?=\.)")


def clean(text: object, limit: int = 200) -> str:
    """Student text made inert: no control or bidi characters, no newlines, capped."""
    s = CONTROL.sub("", str(text)).replace("\n", " ").replace("\r", " ")
    return s if len(s) <= limit else s[: limit - 1] + "…"


# What html.escape, a backslash before each Markdown special character and "@" + ZWSP
# would do, in one pass.
MD_TABLE = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", "@": "@" + ZWSP}
    | {c: "\\" + c for c in "\\`*_{}[]()#+!|~-"}
)


def md(text: object, limit: int = 200) -> str:
    """Escape for GitHub Markdown: no HTML, links (written or bare), emphasis, table breaks
    or @-mentions."""
    s = clean(text, limit).translate(MD_TABLE)
    return AUTOLINK.sub(ZWSP, s) if "://" in s or "ww." in s.lower() else s


def code(text: object, limit: int = 200) -> str:
    """A Markdown code span: its content is shown literally (no links, mentions or HTML),
    so it is only cleaned, and backticks, which would end it, become quotes."""
    return "`" + clean(text, limit).replace("`", "'") + "`"


def cell_code(text: object, limit: int = 200) -> str:
    """A code span in a Markdown table's cell: as :func:`code`, and its pipes escaped. GitHub
    splits a table row at every pipe before it reads code spans, so an unescaped pipe in one
    would end the cell there and put what follows it in the next cell as Markdown; in a
    cell, ``\\|`` is shown as a pipe, in a code span too."""
    return code(text, limit).replace("|", "\\|")


def command_data(text: object, limit: int = 1000) -> str:
    """A workflow command's message: escaped as GitHub's toolkit does, so student text can
    neither end the command nor start another one."""
    s = clean(text, limit)
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def command_property(text: object, limit: int = 300) -> str:
    return command_data(text, limit).replace(":", "%3A").replace(",", "%2C")
