"""Publisher advisory ids join an advisory's RSS entry and its CSAF document."""

from __future__ import annotations

import pytest

from bot.domain.advisory import find_tracking_id


@pytest.mark.parametrize(("texts", "expected"), [
    (("Philips IntelliVue Monitors (Update A)", "https://www.cisa.gov/news-events/ics-medical-"
      "advisories/icsma-18-156-01"), "ICSMA-18-156-01"),
    (("ICSA-24-123-01: Siemens SIMATIC",), "ICSA-24-123-01"),
    (("SSA-123456: Vulnerabilities in SINEC",), "SSA-123456"),
    (("[hoch] WID-SEC-2024-0123: Linux Kernel",), "WID-SEC-2024-0123"),
    (("Dräger Infinity Delta: remote code execution", "https://adv.example/1"), None),
    (("ICSMA-18-156", "SSA-12345"), None),  # incomplete ids are no ids
])
def test_tracking_ids_are_found_in_titles_and_links(texts: tuple[str, ...],
                                                    expected: str | None) -> None:
    assert find_tracking_id(*texts) == expected
