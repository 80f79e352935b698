"""Issue 7: every index declared in a model carries a comment naming the query it serves."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODEL_FILES = sorted(
    p for app in ("clinic", "patients", "medications", "appointments") for p in (ROOT / app).glob("models.py")
)


def _declarations(path: Path):
    """(line, what) of each models.Index(...) and each field with db_index=True."""
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name == "Index" or any(
            k.arg == "db_index" and getattr(k.value, "value", False) is True for k in node.keywords
        ):
            yield node.lineno, ast.unparse(node)[:80]


def _commented(lines: list[str], lineno: int) -> bool:
    """A comment on the declaration's line, or on the line(s) just above it."""
    if "#" in lines[lineno - 1]:
        return True
    return lines[lineno - 2].strip().startswith("#")


@pytest.mark.parametrize("path", MODEL_FILES, ids=lambda p: p.parent.name)
def test_each_model_index_names_its_query(path):
    lines = path.read_text().splitlines()
    declarations = list(_declarations(path))
    missing = [f"{path.parent.name}/models.py:{n}: {what}" for n, what in declarations if not _commented(lines, n)]
    assert not missing, "indexes without a comment naming their query:\n" + "\n".join(missing)


def test_the_check_sees_the_indexes():
    assert sum(len(list(_declarations(p))) for p in MODEL_FILES) >= 15
