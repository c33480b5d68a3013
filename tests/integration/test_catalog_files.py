"""Catalog checks that read files written for the test: code to extract, an admin's own
language file."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import i18n
from bot.cli import translations as catalogs


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

