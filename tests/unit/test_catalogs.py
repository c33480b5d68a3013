"""The catalog check that `make lint` runs: what makes CI fail, and that the real catalogs pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.catalog import Catalog

from bot.app import i18n
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


def test_a_text_built_at_run_time_cannot_be_translated(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "m.py").write_text(
        'from bot.domain.language import _\n'
        'ok = _("Removed {vendor}.").format(vendor=v)\n'
        'bad = _(f"Removed {v}.")\n'
        'worse = _("Removed " + v)\n'
        'hidden = f"{_(\'Removed\')} {v}"\n', encoding="utf-8")
    found = catalogs.unextractable(package)
    assert [line.split(":")[1] for line in found] == ["3", "4", "5"]
    assert "inside an f-string" in found[2]


def test_the_shipped_catalogs_are_complete() -> None:
    """What `make lint` checks, so a plain pytest run tells it too."""
    assert catalogs.check() == 0


def test_a_translation_that_would_break_formatting_is_read_as_english(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """An admin's own language file with a mistyped placeholder: the message reads in English
    (logged), the others in the language, and nothing fails when the message is written."""
    po = tmp_path / "hubbot.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
        'msgid "Removed {vendor}."\nmsgstr "{fabricant} supprimé."\n\n'
        'msgid "Muted."\nmsgstr "En sourdine."\n\n'
        'msgid "Unmuted."\nmsgstr ""\n', encoding="utf-8")
    translator = i18n.load("fr", po)
    assert translator.gettext("Removed {vendor}.").format(vendor="Dräger") == "Removed Dräger."
    assert translator.gettext("Muted.") == "En sourdine."
    assert "does not keep its {placeholders}" in caplog.text
    assert "2 of 3 messages are untranslated or fuzzy in fr" in caplog.text
