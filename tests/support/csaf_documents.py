"""CSAF documents for tests: a Philips IntelliVue MX40 advisory built to order."""

from __future__ import annotations

from typing import Any


def monitor_document(*vulnerabilities: dict[str, list[str]],
                     versions: dict[str, tuple[str, str]] | None = None,
                     remediations: list[dict[str, Any]] | None = None,
                     **tree: Any) -> dict[str, Any]:
    """A Philips advisory on IntelliVue MX40 with `versions` {product id: (category, text)},
    one vulnerability per product_status mapping (each with `remediations`), and `tree`'s
    further product_tree entries (relationships, product_groups)."""
    versions = versions or {"P1": ("product_version", "B.06.18")}
    return {
        "document": {
            "title": "Philips IntelliVue", "tracking": {"id": "ICSMA-X", "version": "1"},
            "notes": [{"category": "summary", "text": "Monitors."}],
        },
        "product_tree": {"branches": [{"category": "vendor", "name": "Philips", "branches": [
            {"category": "product_name", "name": "IntelliVue MX40", "branches": [
                {"category": category, "name": text,
                 "product": {"name": f"Philips IntelliVue MX40 {text}", "product_id": pid}}
                for pid, (category, text) in versions.items()]}]}], **tree},
        "vulnerabilities": [{"cve": f"CVE-2026-{i:04}", "product_status": statuses,
                             "remediations": remediations or []}
                            for i, statuses in enumerate(vulnerabilities, start=1)],
    }
