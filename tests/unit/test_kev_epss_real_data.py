"""The KEV and EPSS readers on real data (../shared/data/kev, ../shared/data/epss)."""

from __future__ import annotations

import csv
import json
from datetime import date

from bot.domain.exploitation import parse_epss_answer, parse_kev
from tests.support.shared_data import require_shared_data


def test_cisas_real_catalog_is_read_whole() -> None:
    path = require_shared_data("kev/known_exploited_vulnerabilities.json")
    catalog = parse_kev(json.loads(path.read_text(encoding="utf-8")))
    assert catalog.version == "2025.08.25"
    assert len(catalog.listings) == 1404 and catalog.skipped == 0
    assert len({entry.cve for entry in catalog.listings}) == 1404
    assert all(entry.date_added is not None for entry in catalog.listings)
    assert all(entry.vendor and entry.product and entry.name for entry in catalog.listings)
    # "Known" or "Unknown" in the catalog: both must be read, not every entry one way.
    ransomware = sum(entry.ransomware for entry in catalog.listings)
    assert 0 < ransomware < len(catalog.listings)
    newest = max(entry.date_added or date.min for entry in catalog.listings)
    assert newest <= date(2025, 8, 25)


def test_real_epss_numbers_are_read_as_the_api_writes_them() -> None:
    path = require_shared_data("epss/epss_scores_2026-09-29_head.csv")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("#model_version:") and "score_date:2026-09-29" in lines[0]
    rows = list(csv.DictReader(lines[1:]))
    # The API answers the same numbers as strings, with the score's day beside them.
    answer = {"data": [{**row, "date": "2026-09-29"} for row in rows]}
    scores = parse_epss_answer(answer)
    assert len(scores) == len(rows) == 49
    assert all(0.0 <= s.epss <= 1.0 and 0.0 <= s.percentile <= 1.0 for s in scores)
    assert {s.day for s in scores} == {date(2026, 9, 29)}
    assert scores[0].cve == rows[0]["cve"] and scores[0].epss == float(rows[0]["epss"])
