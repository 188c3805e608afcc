"""Threat 9 (SECURITY.md): inject Markdown, HTML, a mention, a link and ANSI escapes through the error text."""

import numpy as np


def build_model():
    raise RuntimeError(
        "@octocat <img src=x onerror=alert(1)> [click](http://evil.example) "
        "| table | break |\n\x1b[2J\x1b[31m## Winner: hostile ![x](http://evil.example/x.png)"
    )
