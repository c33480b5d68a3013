"""Feed entries, a KEV catalog and limits shared by the end-to-end tests."""

import json

from tests.support.shared_data import require_shared_data

# Seconds a subprocess or a wait may take before a test calls it hung. Only a guard: on a loaded
# machine one `hubbot` command takes over 20 s to start, so it is far above any normal run.
HANG_GUARD = 300.0

ALERT_ITEM = """<item><title>Dräger Infinity Delta Patient Monitors</title>
<link>https://advisories.example.org/icsma-26-1</link>
<guid>https://advisories.example.org/icsma-26-1</guid>
<description>&lt;p&gt;Dräger Infinity Delta VF10.1 and prior: CVE-2026-90001.
CVSS v3.1 base score 8.1&lt;/p&gt;</description>
<pubDate>Tue, 14 Apr 2026 12:00:00 +0000</pubDate></item>"""


def item(n: int, title: str, body: str = "", cves: str = "") -> str:
    """An RSS <item> for advisory `n` (https://adv.example.org/n) with this title and text."""
    return (f"<item><title>{title}</title><link>https://adv.example.org/{n}</link>"
            f"<guid>https://adv.example.org/{n}</guid><description>{body} {cves}</description>"
            "<pubDate>Tue, 14 Apr 2026 12:00:00 +0000</pubDate></item>")


def kev_catalog(*cves: str) -> bytes:
    """A KEV catalog in the real format, with the real catalog's first entry and these CVEs."""
    real = json.loads((require_shared_data("kev") /
                       "known_exploited_vulnerabilities.json").read_text(encoding="utf-8"))
    first = real["vulnerabilities"][0]
    entries = [first] + [{**first, "cveID": cve, "vendorProject": "Dräger",
                          "product": "Infinity Delta", "dateAdded": "2026-11-25",
                          "knownRansomwareCampaignUse": "Known"} for cve in cves]
    return json.dumps({**real, "count": len(entries), "vulnerabilities": entries}).encode()
