"""The product list CSV: `member,vendor,product[,aliases][,vendor_aliases][,distinctive]
[,versions]`."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from bot.domain.members import check_member_name
from bot.domain.products import ProductSpec

REQUIRED = ("member", "vendor", "product")
OPTIONAL = ("aliases", "vendor_aliases", "distinctive", "versions")
_TRUE = {"1", "true", "yes", "y", "x"}
_FALSE = {"", "0", "false", "no", "n"}
MAX_ROWS = 200_000


class ProductCsvError(ValueError):
    """The CSV cannot be imported; the message lists the rows and what is wrong with each."""


@dataclass(frozen=True)
class ProductLine:
    row: int
    member: str
    spec: ProductSpec


@dataclass(frozen=True)
class ProductCsv:
    lines: list[ProductLine]  # the rows that can be imported
    refused: list[str]  # "row 4: product 'Version' is too generic …", one per refused row


def parse_product_csv(text: str, origin: str = "CSV") -> list[ProductLine]:
    """All rows or none: every problem is collected and reported with its row number."""
    read = read_product_csv(text, origin)
    if read.refused:
        raise ProductCsvError(f"{origin}: nothing imported, fix these rows:\n  "
                              f"{refused_rows(read.refused)}")
    return read.lines


def refused_rows(refused: list[str]) -> str:
    """The refused rows, one a line, the first 20 of them."""
    shown = "\n  ".join(refused[:20])
    more = f"\n  … and {len(refused) - 20} more" if len(refused) > 20 else ""
    return shown + more


def read_product_csv(text: str, origin: str = "CSV") -> ProductCsv:
    """Every row checked: the good ones, and the refused ones with their row number and
    reason. A wrong header or an oversized file is refused as a whole (ProductCsvError)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ProductCsvError(
            f"{origin}: missing column(s) {', '.join(missing)}; the header must be "
            f"member,vendor,product and optionally {','.join(OPTIONAL)}"
        )
    unknown = [h for h in header if h not in REQUIRED + OPTIONAL]
    if unknown:
        raise ProductCsvError(f"{origin}: unknown column(s) {', '.join(unknown)}")
    reader.fieldnames = header
    lines: list[ProductLine] = []
    errors: list[str] = []
    for number, raw in enumerate(reader, start=2):
        if number - 1 > MAX_ROWS:
            raise ProductCsvError(f"{origin}: more than {MAX_ROWS} rows; split the file")
        row = {k: (v or "").strip() for k, v in raw.items() if k is not None}
        if not any(row.values()):
            continue
        try:
            lines.append(ProductLine(number, check_member_name(row["member"]), _spec(row)))
        except ValueError as exc:
            errors.append(f"row {number}: {exc}")
    return ProductCsv(lines, errors)


def _spec(row: dict[str, str]) -> ProductSpec:
    distinctive = row.get("distinctive", "").lower()
    if distinctive not in _TRUE | _FALSE:
        raise ValueError(f"distinctive must be yes or no, not {row.get('distinctive')!r}")
    return ProductSpec(
        vendor=row["vendor"],
        product=row["product"],
        aliases=_list(row.get("aliases", "")),
        vendor_aliases=_list(row.get("vendor_aliases", "")),
        distinctive=distinctive in _TRUE,
        versions=row.get("versions") or None,
    )


def _list(cell: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in cell.split(";") if part.strip())
