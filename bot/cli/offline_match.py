"""`hubbot match`: products CSV × advisories JSON lines → matches, with no database."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from bot.domain.matching import AdvisoryMatcher
from bot.domain.product_csv import ProductLine
from bot.domain.products import RegisteredProduct


def match_files(lines: Sequence[ProductLine], advisories_jsonl: Path
                ) -> Iterator[dict[str, str]]:
    """One dict per (advisory, member product) match, in file order, for the products of a
    product CSV (read with bot.domain.product_csv).

    Each advisory line needs `id` and `title`; the text matched is `summary`, plus `text` and
    `affected` (a list of product names) where the line has them, as CISA's feed entries carry
    the whole advisory body.
    """
    matcher = AdvisoryMatcher(RegisteredProduct(ln.row, ln.member, ln.spec) for ln in lines)
    with advisories_jsonl.open(encoding="utf-8") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
                advisory_id, title = str(record["id"]), str(record["title"])
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(
                    f"{advisories_jsonl.name} line {number}: not an advisory with id and title "
                    f"({type(exc).__name__}: {exc})"
                ) from None
            for m in matcher.match(title, advisory_text(record)):
                yield {
                    "advisory_id": advisory_id,
                    "member": m.product.member,
                    "vendor": m.product.spec.vendor,
                    "product": m.product.spec.product,
                    "why": m.why,
                }


def advisory_text(record: dict[str, object]) -> str:
    """The body a feed entry of this advisory carries: summary or full text, affected names."""
    parts = [str(record.get("text") or record.get("summary") or "")]
    affected = record.get("affected")
    if isinstance(affected, list):
        parts.extend(str(a) for a in affected)
    return "\n".join(parts)
