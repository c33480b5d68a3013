"""An alert's reasons read in each reader's language: why a product matched, the version
decision of a CSAF document, its note and a revision's change; English as it always was."""

from __future__ import annotations

import json

from bot.domain.advisory import Advisory
from bot.domain.alerts import Alert, MatchedProduct
from bot.domain.csaf import parse_csaf, products_named
from bot.domain.language import Phrase, dump_text, in_language, load_text, speaking
from bot.domain.matching import AdvisoryMatcher
from bot.domain.outbox_payload import AlertMessage, payload_from_json, payload_to_json
from bot.domain.products import ProductSpec, RegisteredProduct
from bot.domain.versions import Decision, VersionDecision, decide
from bot.services.csaf_ingest import change_between, note_for
from bot.services.ports import StoredDecision
from tests.support.csaf_documents import monitor_document

MONITOR = ProductSpec("Philips", "IntelliVue MX40")


def version_decision(member: str | None, statuses: dict[str, list[str]],
                     versions: dict[str, tuple[str, str]]) -> VersionDecision:
    doc = parse_csaf(monitor_document(statuses, versions=versions))
    return decide(member, doc, products_named(doc, MONITOR))


def test_a_name_match_reason_reads_in_german_and_stays_english() -> None:
    matcher = AdvisoryMatcher([RegisteredProduct(1, "Klinikum Nord", MONITOR)])
    [match] = matcher.match("Philips IntelliVue MX40 vulnerability", "Philips monitors")
    english = 'product "IntelliVue MX40" in the title, vendor "Philips" in the title'
    assert match.why == english and isinstance(match.why, Phrase)
    with speaking("de"):
        assert in_language(match.why) == (
            "Produkt „IntelliVue MX40“ im Titel, Hersteller „Philips“ im Titel")
    with speaking("en"):
        assert in_language(match.why) == english


def test_a_distinctive_product_reason_reads_in_german() -> None:
    spec = ProductSpec("Acme", "Delta Monitor", distinctive=True)
    [match] = AdvisoryMatcher([RegisteredProduct(1, "m", spec)]).match("Notice", "Delta Monitor")
    assert match.why == 'product "Delta Monitor" in the summary (distinctive: no vendor needed)'
    with speaking("de"):
        assert in_language(match.why) == (
            "Produkt „Delta Monitor“ in der Zusammenfassung (eindeutig: kein Hersteller nötig)")


def test_a_version_decision_reads_in_german_and_stays_english() -> None:
    result = version_decision("B.06.12", {"known_affected": ["P1"]},
                              {"P1": ("product_version_range", "< B.06.18")})
    english = "version B.06.12 is listed as known affected (< B.06.18 read as maven)"
    assert result.decision is Decision.AFFECTED and result.reason == english
    with speaking("de"):
        assert in_language(result.reason) == (
            "Version B.06.12 ist als „bekanntermaßen betroffen“ aufgeführt "
            "(< B.06.18 gelesen als maven)")
        note = in_language(note_for(result))
    assert note == ("Ihre Version ist betroffen: Version B.06.12 ist als „bekanntermaßen "
                    "betroffen“ aufgeführt (< B.06.18 gelesen als maven)")
    assert note_for(result) == f"Your version is affected: {english}"


def test_an_undecidable_range_says_why_in_german() -> None:
    result = version_decision("B.06.18", {"known_affected": ["P1"]},
                              {"P1": ("product_version_range", "<May 2018")})
    assert result.decision is Decision.UNKNOWN_VERSION
    assert result.reason == (
        "could not compare version B.06.18: '<May 2018' names a date, not a version")
    with speaking("de"):
        assert in_language(result.reason) == (
            "Version B.06.18 konnte nicht verglichen werden: "
            "'<May 2018' nennt ein Datum, keine Version")


def test_the_publishers_words_set_aside_read_in_german() -> None:
    listed = "<V4.00_Utilizes_Wibu-Systems_CodeMeter_7.60c"
    fixed = version_decision("V4.00", {"known_affected": ["P1"]},
                             {"P1": ("product_version_range", listed)})
    assert fixed.decision is Decision.NOT_AFFECTED
    assert fixed.reason == (f"version V4.00 is not among the versions listed ({listed}), read "
                            "without the publisher's words 'Utilizes_Wibu-Systems_CodeMeter_7.60c'")
    affected = version_decision("V3.90", {"known_affected": ["P1"]},
                                {"P1": ("product_version_range", listed)})
    with speaking("de"):
        assert in_language(fixed.reason) == (
            f"Version V4.00 ist nicht unter den aufgeführten Versionen ({listed}), gelesen ohne "
            "die Worte des Herausgebers 'Utilizes_Wibu-Systems_CodeMeter_7.60c'")
        assert in_language(affected.reason) == (
            f"Version V3.90 ist als „bekanntermaßen betroffen“ aufgeführt ({listed} gelesen als "
            "maven, ohne 'Utilizes_Wibu-Systems_CodeMeter_7.60c')")


def test_a_release_branch_reason_reads_in_german() -> None:
    result = version_decision("9.6.3.13", {"known_affected": ["P1", "P2"]},
                              {"P1": ("product_version_range", "<9.6.3.13"),
                               "P2": ("product_version_range", "<9.6.4.1")})
    assert result.decision is Decision.NOT_AFFECTED
    with speaking("de"):
        assert in_language(result.reason) == (
            "Version 9.6.3.13 liegt außerhalb von < 9.6.3.13, dem Bereich ihres Release-Zweigs "
            "9.6.3 (der Sicherheitshinweis nennt einen Bereich je Zweig: <9.6.3.13, <9.6.4.1)")


def test_a_note_with_versions_and_fix_reads_in_german() -> None:
    decision = VersionDecision(Decision.UNKNOWN_VERSION, version_decision(
        None, {"known_affected": ["P1"]}, {"P1": ("product_version", "B.06.12")}).reason,
        affected_versions=("B.06.12",), fixed_versions=("B.06.18",),
        fix_urls=("https://fix.example/1",))
    note = note_for(decision)
    assert note == ("Versions listed: no version registered; affected: B.06.12; "
                    "fixed in B.06.18; fix: https://fix.example/1")
    with speaking("de"):
        assert in_language(note) == (
            "Aufgeführte Versionen: Keine Version registriert; betroffen: B.06.12; "
            "behoben in B.06.18; Korrektur: https://fix.example/1")


def test_a_long_note_is_cut_as_before_in_every_language() -> None:
    long_range = "< " + "9" * 700
    result = version_decision("1.0", {"known_affected": ["P1"]},
                              {"P1": ("product_version_range", long_range)})
    note = note_for(result)
    assert len(note) == 600 and note == f"Your version is affected: {result.reason}"[:600]
    with speaking("de"):
        german = in_language(note)
    assert len(german) == 600 and german.startswith("Ihre Version ist betroffen: ")


def test_a_revision_change_reads_in_german() -> None:
    new = version_decision("B.06.12", {"known_affected": ["P1"]},
                           {"P1": ("product_version_range", "< B.06.18")})
    change = change_between(StoredDecision("fixed", {}), new)
    assert change == ("your version is now affected (version B.06.12 is listed as known "
                      "affected (< B.06.18 read as maven))")
    with speaking("de"):
        assert in_language(change).startswith("Ihre Version ist jetzt betroffen (Version B.06.12")
        assert in_language(change_between(None, new)) == (
            "Der Sicherheitshinweis nennt jetzt Ihr Produkt")


def test_a_phrase_survives_a_text_column() -> None:
    result = version_decision("B.06.12", {"known_affected": ["P1"]},
                              {"P1": ("product_version_range", "< B.06.18")})
    stored = dump_text(note_for(result))
    assert stored is not None and json.loads(stored)["m"] == "Your version is affected: {reason}"
    back = load_text(stored)
    assert isinstance(back, Phrase) and back == note_for(result)
    with speaking("de"):
        assert in_language(back).startswith("Ihre Version ist betroffen: Version B.06.12 ist")
    assert load_text("an old plain reason") == "an old plain reason"


def test_reasons_survive_the_outbox_payload_and_read_in_german() -> None:
    matcher = AdvisoryMatcher([RegisteredProduct(1, "Klinikum Nord", MONITOR)])
    [match] = matcher.match("Philips IntelliVue MX40 vulnerability", "")
    decision = version_decision("B.06.12", {"known_affected": ["P1"]},
                                {"P1": ("product_version_range", "< B.06.18")})
    advisory = Advisory("ICSMA-X", "Philips IntelliVue MX40 vulnerability", "",
                        "https://adv.example/x", "cisa")
    alert = Alert(advisory, "Klinikum Nord",
                  (MatchedProduct("Philips", "IntelliVue MX40", match.why, "affected",
                                  note_for(decision)),),
                  change=change_between(None, decision))
    stored = payload_to_json(AlertMessage(alert))
    assert json.loads(stored)["products"][0]["why"] == match.why  # English for older readers
    message = payload_from_json(stored)
    assert isinstance(message, AlertMessage)
    back = message.alert
    [product] = back.products
    assert (product.why, product.note, back.change) == (match.why, note_for(decision),
                                                         alert.change)
    with speaking("de"):
        assert in_language(product.why).startswith("Produkt „IntelliVue MX40“ im Titel")
        assert in_language(product.note).startswith("Ihre Version ist betroffen: Version ")
        assert in_language(back.change) == "Der Sicherheitshinweis nennt jetzt Ihr Produkt"


def test_an_older_payload_without_phrases_still_reads() -> None:
    advisory = Advisory("a", "t", "", "https://adv.example/a", "cisa")
    stored = json.loads(payload_to_json(AlertMessage(Alert(
        advisory, "m", (MatchedProduct("V", "P", "plain why"),), change="plain change"))))
    assert "change_phrase" not in stored
    message = payload_from_json(json.dumps(stored))
    assert isinstance(message, AlertMessage)
    back = message.alert
    assert back.products[0].why == "plain why" and back.change == "plain change"
    assert not isinstance(back.change, Phrase)
