"""Loads the named SQL blocks of queries.sql."""

import importlib.resources
import re

_BLOCK = re.compile(r"^-- ([a-z_]+) --$", re.MULTILINE)


def _parse(text):
    """Returns {name: statement} for every "-- name --" block of text."""
    parts = _BLOCK.split(text)
    out = {}
    # parts: [preamble, name1, body1, name2, body2, ...]
    for name, body in zip(parts[1::2], parts[2::2]):
        lines = [ln for ln in body.strip().splitlines() if not ln.startswith("--")]
        out[name] = "\n".join(lines).strip()
    return out


def load():
    """Reads queries.sql from the installed package."""
    text = importlib.resources.files(__package__).joinpath("queries.sql").read_text("utf-8")
    return _parse(text)


QUERIES = load()
