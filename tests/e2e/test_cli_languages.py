"""The admin gives a hub channel its language and the hub a default one, on the real command."""

from __future__ import annotations


def test_a_hub_channel_is_added_with_its_language(hubbot) -> None:
    added = hubbot("channel", "add", "telegram", "-100123", "--language", "de")
    assert added.code == 0, added.err
    assert "in de" in added.out
    assert hubbot("channel", "add", "matrix", "!hub:example.org").code == 0
    listed = hubbot("channel", "list").out.splitlines()
    assert listed == ["telegram\t-100123\tseverity all\tup to TLP:CLEAR\tlanguage de",
                      "matrix\t!hub:example.org\tseverity all\tup to TLP:CLEAR\tlanguage default"]


def test_a_language_without_a_catalog_is_refused(hubbot) -> None:
    refused = hubbot("channel", "add", "telegram", "-100123", "--language", "fr")
    assert refused.code != 0
    assert "--language must be one of de, en" in refused.err
    assert "no hub channels" in hubbot("channel", "list").out


def test_the_hub_default_language_must_have_a_catalog(hubbot) -> None:
    hubbot.extra_env = {"HUBBOT_DEFAULT_LANGUAGE": "fr"}
    refused = hubbot("channel", "list")
    assert refused.code != 0
    assert "HUBBOT_DEFAULT_LANGUAGE" in refused.err and "de, en" in refused.err


def test_the_demo_speaks_the_hubs_default_language(hubbot) -> None:
    hubbot.extra_env = {"HUBBOT_DEFAULT_LANGUAGE": "de", "HUBBOT_TIMEZONE": "Europe/Berlin"}
    shown = hubbot("demo")
    assert shown.code == 0, shown.err
    assert "Ihr Produkt: Siemens Healthineers | syngo.via" in shown.out
    assert "Veröffentlicht: 12.04.2026, 08:00 MESZ" in shown.out  # 06:00 UTC in Berlin
    assert "KRITISCH (CVSS 9,8)" in shown.out
    assert "Your product" not in shown.out
