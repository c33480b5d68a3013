"""A CSAF document's product tree as hubbot reads it, and which of its products is a member's.

The tree names products in branches (vendor › family › name › version), in full product names
and in relationships ("firmware X installed on device Y"); product groups let remediations name
many products at once. Pure, like the rest of the domain.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bot.domain.csaf_fields import CsafError, expect_list, expect_object, expect_text
from bot.domain.name_folding import folded_words, spelling_variants
from bot.domain.products import ProductSpec, product_names, vendor_names

# Real product trees are a handful of levels deep; far deeper is hostile, not a product.
_MAX_BRANCH_DEPTH = 30


@dataclass(frozen=True)
class CsafProduct:
    product_id: str
    vendor: str
    name: str  # the product's name (family and name as the tree gives them)
    version: str | None  # product_version
    version_range: str | None  # product_version_range: "vers:…" or the publisher's own text
    full_name: str


class ProductTree(Protocol):
    """A document's products by id (a CSAF document is one)."""

    @property
    def products(self) -> Mapping[str, CsafProduct]: ...


def products_named(document: ProductTree, spec: ProductSpec) -> list[str]:
    """The document's product ids that are the member's product: the same vendor (any of its
    names; the product's full name when the tree gives no vendor) and a product whose name
    contains one of the member's product names as whole words, spelt as the matcher allows
    ("MX40" = "MX 40")."""
    vendors = vendor_names(spec.vendor, spec.vendor_aliases)
    names: set[tuple[str, ...]] = set().union(
        *(spelling_variants(n) for n in product_names(spec)))
    found = []
    for product_id, p in document.products.items():
        if not spec.distinctive and \
                not _has_any(folded_words(p.vendor or p.full_name), vendors):
            continue
        forms = spelling_variants(folded_words(p.name)) | \
            spelling_variants(folded_words(p.full_name))
        if any(_has_any(words, names) for words in forms):
            found.append(product_id)
    return found


def _has_any(words: tuple[str, ...], names: set[tuple[str, ...]]) -> bool:
    for name in names:
        n = len(name)
        if any(words[i:i + n] == name for i in range(len(words) - n + 1)):
            return True
    return False


def read_products(tree: Any) -> dict[str, CsafProduct]:
    """Every product of the tree ($.product_tree) by its product id: from branches, full
    product names and relationships; CsafError names the path of what cannot be used."""
    tree = expect_object(tree, "$.product_tree")
    products: dict[str, CsafProduct] = {}
    for path, context, product in _branch_products(
            expect_list(tree.get("branches", []), "$.product_tree.branches"),
            "$.product_tree.branches", {}):
        products[product["product_id"]] = _product(product, context, path)
    for i, fpn in enumerate(expect_list(tree.get("full_product_names", []),
                                        "$.product_tree.full_product_names")):
        path = f"$.product_tree.full_product_names[{i}]"
        product = expect_object(fpn, path)
        pid = expect_text(product.get("product_id"), f"{path}.product_id")
        products.setdefault(pid, _product(product, {}, path))
    for i, rel in enumerate(expect_list(tree.get("relationships", []),
                                        "$.product_tree.relationships")):
        path = f"$.product_tree.relationships[{i}]"
        relation = expect_object(rel, path)
        fpn = expect_object(relation.get("full_product_name"), f"{path}.full_product_name")
        pid = expect_text(fpn.get("product_id"), f"{path}.full_product_name.product_id")
        base = products.get(str(relation.get("product_reference", "")))
        if base is not None:
            # "firmware X installed on device Y" is X's vendor, name and version.
            products[pid] = CsafProduct(pid, base.vendor, base.name, base.version,
                                        base.version_range, str(fpn.get("name") or base.name))
        else:
            products[pid] = _product(fpn, {}, path)
    return products


def _branch_products(
    branches: list[Any], path: str, context: dict[str, str], depth: int = 0
) -> Iterator[tuple[str, dict[str, str], dict[str, Any]]]:
    if depth > _MAX_BRANCH_DEPTH and branches:
        raise CsafError(path, f"branches nested deeper than {_MAX_BRANCH_DEPTH} levels")
    for i, raw in enumerate(branches):
        here = f"{path}[{i}]"
        branch = expect_object(raw, here)
        category = str(branch.get("category") or "")
        name = str(branch.get("name") or "").strip()
        inner = dict(context)
        if category == "product_family":
            inner["family"] = f"{context.get('family', '')} {name}".strip()
        elif category:
            inner[category] = name
        if "product" in branch:
            product = expect_object(branch["product"], f"{here}.product")
            expect_text(product.get("product_id"), f"{here}.product.product_id")
            yield f"{here}.product", inner, product
        yield from _branch_products(
            expect_list(branch.get("branches", []), f"{here}.branches"),
            f"{here}.branches", inner, depth + 1)


def _product(product: dict[str, Any], context: dict[str, str], path: str) -> CsafProduct:
    pid = expect_text(product.get("product_id"), f"{path}.product_id")
    full_name = str(product.get("name") or "").strip()
    name = context.get("product_name") or context.get("family") or full_name
    if context.get("product_name") and context.get("family") and \
            context["family"].casefold() not in name.casefold():
        name = f"{context['family']} {name}"
    return CsafProduct(
        product_id=pid,
        vendor=context.get("vendor", ""),
        name=name,
        version=context.get("product_version") or None,
        version_range=context.get("product_version_range") or None,
        full_name=full_name or name,
    )


def read_groups(tree: Any) -> dict[str, tuple[str, ...]]:
    """The tree's product groups: group id → the product ids it names."""
    groups: dict[str, tuple[str, ...]] = {}
    if not isinstance(tree, dict):
        return groups
    for i, raw in enumerate(expect_list(tree.get("product_groups", []),
                                        "$.product_tree.product_groups")):
        path = f"$.product_tree.product_groups[{i}]"
        group = expect_object(raw, path)
        gid = expect_text(group.get("group_id"), f"{path}.group_id")
        groups[gid] = tuple(str(p) for p in expect_list(group.get("product_ids", []),
                                                        f"{path}.product_ids"))
    return groups
