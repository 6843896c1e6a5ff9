"""The console's layering: ui -> services -> storage, checked on the import statements."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "omnidesk"

FORBIDDEN = {
    "storage": ("PySide6", "qasync", "httpx", "omnidesk.services", "omnidesk.ui"),
    "mail": (
        "PySide6",
        "qasync",
        "httpx",
        "aioimaplib",
        "aiosmtplib",
        "imaplib",
        "smtplib",
        "sqlmodel",
        "sqlalchemy",
        "omnidesk.services",
        "omnidesk.storage",
        "omnidesk.ui",
    ),  # fmt: skip
    "services": ("PySide6", "qasync", "omnidesk.ui", "sqlmodel", "sqlalchemy"),
    "ui": ("httpx", "sqlmodel", "sqlalchemy", "aioimaplib", "aiosmtplib", "aio_pika"),
    "domain.py": ("PySide6", "httpx", "sqlmodel", "sqlalchemy", "omnidesk."),
    "changes.py": ("PySide6", "httpx", "sqlmodel", "sqlalchemy", "omnidesk."),
}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def files(part: str) -> list[Path]:
    target = ROOT / part
    if target.is_file():
        return [target]
    return list(target.rglob("*.py"))


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_layer_does_not_import_upwards(part: str) -> None:
    bad = []
    for path in files(part):
        for name in imports(path):
            if any(
                name == f.rstrip(".")
                or name.startswith(f.rstrip(".") + ".")
                or (f.endswith(".") and name.startswith(f))
                for f in FORBIDDEN[part]
            ):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert bad == []
