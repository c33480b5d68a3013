"""The catalog check that `make lint` runs: what makes CI fail, and that the real catalogs pass."""

from __future__ import annotations

from babel.messages.catalog import Catalog

from bot.cli import translations as catalogs


def _template(*messages: str | tuple[str, str]) -> Catalog:
    template = Catalog(domain="hubbot")
    for message in messages:
        template.add(message, None, [("bot/x.py", 1)])
    return template


def _german(entries: dict[str | tuple[str, str], str | tuple[str, str]],
            fuzzy: frozenset[str] = frozenset()) -> Catalog:
    catalog = Catalog(locale="de", domain="hubbot")
    for message, translation in entries.items():
        catalog.add(message, translation, flags=("fuzzy",) if message in fuzzy else ())
    return catalog


def test_a_complete_catalog_has_no_problem() -> None:
    template = _template("Removed {vendor}.", ("{n} product", "{n} products"))
    german = _german({"Removed {vendor}.": "{vendor} entfernt.",
                      ("{n} product", "{n} products"): ("{n} Produkt", "{n} Produkte")})
    assert catalogs.problems(template, "de", german) == []


def test_a_message_missing_untranslated_or_fuzzy_fails() -> None:
    template = _template("Removed {vendor}.", "Muted.", "Unmuted.")
    german = _german({"Muted.": "", "Unmuted.": "Laut."}, fuzzy=frozenset({"Unmuted."}))
    found = catalogs.problems(template, "de", german)
    assert any(p.startswith("de: missing 'Removed {vendor}.'") for p in found)
    assert any(p.startswith("de: untranslated 'Muted.'") for p in found)
    assert any(p.startswith("de: fuzzy 'Unmuted.'") for p in found)


def test_a_translation_with_other_placeholders_fails() -> None:
    # Sent as is, "{hersteller}" would raise KeyError when the answer is written.
    template = _template("Removed {vendor}.")
    german = _german({"Removed {vendor}.": "{hersteller} entfernt."})
    [problem] = catalogs.problems(template, "de", german)
    assert "placeholders" in problem and "hersteller" in problem


def test_a_translation_left_over_from_removed_code_fails() -> None:
    german = _german({"Gone.": "Weg."})
    assert catalogs.problems(_template(), "de", german) == [
        "de: left over (no longer in the code) 'Gone.'"]


def test_the_shipped_catalogs_are_complete() -> None:
    """What `make lint` checks, so a plain pytest run tells it too."""
    assert catalogs.check() == 0
