"""docs/architecture.md stays true: every module, file and function it names exists, and it links
every other document."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
OURS = ("clinic", "patients", "medications", "appointments", "notifications", "records", "demo", "tests")
ARCHITECTURE = (DOCS / "architecture.md").read_text()
# What the page quotes as code: `clinic/access.py`, `clinic.dashboard.open_reports`, `demo/`.
QUOTED = re.findall(r"`([^`\s]+)`", ARCHITECTURE)


def test_every_path_it_names_exists():
    paths = {q.rstrip(",") for q in QUOTED if "/" in q and q.split("/")[0] in (*OURS, "docs", "templates", "static")}
    assert paths, "the page names no path: the check would pass for nothing"
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert missing == []


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            if not hasattr(obj, name):
                return False
            obj = getattr(obj, name)
        return True
    return False


def test_every_module_and_function_it_names_exists():
    dotted = {
        re.sub(r"\(.*", "", q)
        for q in QUOTED
        if "/" not in q and "." in q and q.split(".")[0] in OURS and not q.endswith(".md")
    }
    assert len(dotted) >= 10
    missing = sorted(name for name in dotted if not _resolves(name))
    assert missing == []


def test_it_links_every_other_document():
    linked = set(re.findall(r"\]\(([\w-]+\.md)\)", ARCHITECTURE))
    others = {path.name for path in DOCS.glob("*.md")} - {"architecture.md"}
    assert others - linked == set()
