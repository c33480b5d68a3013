"""The domain core imports no I/O library: adapters translate at the edges."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[2] / "bot" / "domain"
ALLOWED_THIRD_PARTY = {"ahocorasick", "univers", "ioc_finder", "ioc_fanger"}  # none does I/O


def test_domain_imports_only_the_standard_library_and_pure_helpers() -> None:
    offenders = []
    for path in sorted(DOMAIN.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top == "bot":
                    if not name.startswith("bot.domain"):
                        offenders.append(f"{path.name}: {name}")
                elif top not in sys.stdlib_module_names and top not in ALLOWED_THIRD_PARTY:
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []
