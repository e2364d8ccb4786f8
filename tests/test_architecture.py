"""The shape of the package: domain modules know nothing of Textual; only the store speaks SQL."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "webcare_tui"
UI = ("app.py", "screens", "widgets")


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.split(".")[0])
    return found


def modules(*, ui: bool):
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if (relative.parts[0] in UI) == ui:
            yield relative, path


def test_domain_modules_do_not_import_textual():
    assert "textual" in imports(PACKAGE / "app.py")  # the scanner sees imports
    offenders = [str(relative) for relative, path in modules(ui=False) if {"textual", "rich"} & imports(path)]
    assert offenders == []


def test_only_the_store_opens_sqlite():
    allowed = {"store", "bulk.py"}  # bulk only names sqlite3's error types for its messages
    offenders = [str(relative) for relative, path in modules(ui=False)
                 if "sqlite3" in imports(path) and relative.parts[0] not in allowed]
    offenders += [str(relative) for relative, path in modules(ui=True) if "sqlite3" in imports(path)]
    assert offenders == []
