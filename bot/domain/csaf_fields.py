"""Reading a CSAF document's JSON without trusting it: each reader checks one field's type and
raises CsafError naming the field's path ("$.product_tree.branches[2].product")."""

from __future__ import annotations

from typing import Any


class CsafError(ValueError):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


def expect_object(value: Any, path: str) -> dict[str, Any]:
    """The JSON object at path; CsafError if it is anything else."""
    if not isinstance(value, dict):
        raise CsafError(path, f"expected an object, got {type(value).__name__}")
    return value


def expect_list(value: Any, path: str) -> list[Any]:
    """The JSON array at path; CsafError if it is anything else."""
    if not isinstance(value, list):
        raise CsafError(path, f"expected a list, got {type(value).__name__}")
    return value


def expect_text(value: Any, path: str) -> str:
    """The non-empty string at path, stripped; CsafError if it is missing or blank."""
    if not isinstance(value, str) or not value.strip():
        raise CsafError(path, "expected a non-empty string")
    return value.strip()
