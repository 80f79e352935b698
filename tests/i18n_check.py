"""Finding English left in a page that should be Spanish (issue 22; tests/test_spanish_pages.py).

Two nets, because neither alone is enough:

- the catalogue: every English msgid of locale/es/LC_MESSAGES/django.po of two words or more,
  found verbatim in the page's text, is a string the page printed untranslated (a missing
  ``{% translate %}`` on a path, a ``gettext`` called at import time, a stale .mo);
- English function words: a text run holding two or more words that are English and not Spanish
  ("the", "your", "with", ...) is a sentence nobody marked for translation at all.

What is deliberately English is excluded: anything inside an element marked ``lang="en"`` (the
prescriber's free-text instructions, a questionnaire with no validated Spanish version, shown as
published, and said so), and the proper names of ALLOWED (drug names, instrument names, people).
"""

from __future__ import annotations

import re
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

PO_FILE = Path(__file__).resolve().parent.parent / "locale" / "es" / "LC_MESSAGES" / "django.po"

# Words that are English and not Spanish (nor a drug or a name): two in one run of text is English.
ENGLISH_WORDS = frozenset(
    [
        "the",
        "your",
        "you",
        "and",
        "with",
        "is",
        "are",
        "this",
        "that",
        "not",
        "have",
        "has",
        "will",
        "what",
        "when",
        "from",
        "please",
        "here",
        "it",
        "be",
        "of",
        "to",
        "in",
        "on",
        "at",
        "or",
        "for",
        "my",
        "we",
        "our",
        "an",
        "was",
        "were",
        "been",
        "can",
        "cannot",
        "do",
        "does",
        "did",
        "if",
        "into",
        "about",
        "after",
        "before",
        "which",
        "who",
        "how",
    ]
)
# Names and terms that stay as they are in Spanish: kept out of the function-word count.
ALLOWED = (
    "Titrate",
    "PHQ-9",
    "PHQ-2",
    "GAD-7",
    "GAD-2",
    "Poison Control",
    "Suicide & Crisis Lifeline",
)
# Attributes a person (or a screen reader) reads.
READ_ATTRIBUTES = ("aria-label", "placeholder", "title", "alt", "data-confirm")
SKIPPED_TAGS = {"script", "style", "template", "code"}
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@cache
def catalogue_msgids() -> tuple[str, ...]:
    """The English msgids (two words or more) of the Spanish catalogue, placeholders cut out:
    each piece between placeholders or tags that still holds two words is searched for."""
    text = PO_FILE.read_text(encoding="utf-8")
    pieces = set()
    for raw in re.findall(r'^msgid "(.+)"$', text, flags=re.MULTILINE):
        msgid = raw.encode().decode("unicode_escape").encode("latin-1").decode("utf-8")
        for piece in re.split(r"%\(\w+\)[sd]|\{\}|<[^>]+>", msgid):
            piece = piece.strip(" .,:;—–()?!¿¡“”\"'")
            if len(piece.split()) >= 2:
                pieces.add(piece)
    return tuple(sorted(pieces, key=len, reverse=True))


class _Text(HTMLParser):
    """The page's readable text runs (text nodes and read attributes), outside lang="en"."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.runs: list[str] = []
        self.stack: list[tuple[str, bool]] = []  # (tag, English or skipped)

    def _excluded(self) -> bool:
        return any(excluded for _, excluded in self.stack)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        excluded = attrs.get("lang", "").startswith("en") or tag in SKIPPED_TAGS
        if tag == "html":
            excluded = False  # the page's own lang is what is being checked
        if not self._excluded() and not excluded:
            self.runs.extend(attrs[name] for name in READ_ATTRIBUTES if attrs.get(name))
        if tag not in VOID_TAGS:
            self.stack.append((tag, excluded))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID_TAGS and self.stack:
            self.stack.pop()

    def handle_endtag(self, tag):
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                break

    def handle_data(self, data):
        if not self._excluded() and data.strip():
            self.runs.append(" ".join(data.split()))


def text_runs(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    parser.close()
    return parser.runs


def english_left(html: str, *, names: tuple[str, ...] = ()) -> list[str]:
    """The English found in a page meant to be Spanish: catalogue strings and English sentences."""
    found = []
    runs = text_runs(html)
    joined = " \n ".join(runs)
    for piece in catalogue_msgids():
        if piece in joined:
            found.append(f"untranslated msgid: {piece!r}")
            joined = joined.replace(piece, " ")
    for run in runs:
        cleaned = run
        for name in (*ALLOWED, *names):
            cleaned = cleaned.replace(name, " ")
        words = {word.lower() for word in re.findall(r"[A-Za-z']+", cleaned)}
        hits = words & ENGLISH_WORDS
        if len(hits) >= 2:
            found.append(f"English text: {run[:160]!r} ({', '.join(sorted(hits))})")
    return found
