"""Markdown rendering (placeholder until the full renderer lands)."""

import re

import nh3
from markdown_it import MarkdownIt

_WIKILINK = re.compile(r"\[\[([^\[\]|]+)(?:\|[^\[\]]*)?\]\]")


def extract_wikilinks(text: str) -> list[str]:
    return [" ".join(m.group(1).split()) for m in _WIKILINK.finditer(text or "")]


def render_markdown(text: str) -> str:
    return nh3.clean(MarkdownIt("gfm-like").render(text or ""))
