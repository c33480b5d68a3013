"""A public feed, its redirects and what a CSAF provider lists never lead the fetcher to an
internal address. httpx.MockTransport stands for the network and a resolver the test controls
for DNS: nothing is sent anywhere."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import httpx
import pytest

from bot.feeds.addresses import literal_address, non_public
from bot.feeds.config import FeedConfig
from bot.feeds.csaf_source import CsafSource
from bot.feeds.fetch import FeedFetcher, Fetched, FetchFailed

DNS = {
    "feeds.example.org": ["93.184.216.34"],
    "mirror.example.org": ["2606:2800:220:1:248:1893:25c8:1946", "93.184.216.35"],
    "intranet.klinikum.example": ["10.20.30.40"],
    "metadata.example.org": ["169.254.169.254"],
    "dual.example.org": ["93.184.216.36", "::1"],
    "localhost": ["127.0.0.1", "::1"],
    "csaf.example.org": ["93.184.216.37"],
}
PUBLIC_FEED = FeedConfig("cert", "https://feeds.example.org/rss.xml", timedelta(hours=1))
INTRANET_FEED = FeedConfig("intranet", "http://intranet.klinikum.example/feed.xml",
                           timedelta(hours=1))


class Dns:
    """Answers from DNS above; counts questions."""

    def __init__(self) -> None:
        self.asked: Counter[str] = Counter()

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked[host] += 1
        if host not in DNS:
            raise OSError(f"[Errno -2] Name or service not known: {host}")
        return DNS[host]


class Web:
    """The network: one answer per URL (a redirect or a feed); counts requests per host."""

    def __init__(self, routes: dict[str, httpx.Response]) -> None:
        self.routes = routes
        self.hosts: Counter[str] = Counter()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.hosts[request.url.host] += 1
        return self.routes.get(str(request.url), httpx.Response(200, content=b"<rss/>"))


def redirect(to: str) -> httpx.Response:
    return httpx.Response(302, headers={"Location": to})


async def fetch(feed: FeedConfig, web: Web, **options: object) -> object:
    async with FeedFetcher(transport=httpx.MockTransport(web), resolver=Dns(),
                           **options) as fetcher:  # type: ignore[arg-type]
        return await fetcher.fetch(feed)


@pytest.mark.parametrize(("target", "kind"), [
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://metadata.example.org/latest/", "link-local"),
    ("http://intranet.klinikum.example/admin", "private"),
    ("http://2130706433/", "loopback"),
    ("http://0x7f.1:8080/", "loopback"),
    ("http://127.1/", "loopback"),
    ("http://[::1]:6379/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://[::ffff:a9fe:a9fe]/", "link-local"),
    ("http://localhost./", "loopback"),
    ("http://dual.example.org/", "loopback"),  # one public address does not make it public
    ("http://0.0.0.0:8181/metrics", "unspecified"),
    ("http://100.64.0.1/", "non-public"),
])
async def test_a_public_feed_cannot_redirect_the_bot_inside(target: str, kind: str) -> None:
    web = Web({PUBLIC_FEED.url: redirect(target)})
    result = await fetch(PUBLIC_FEED, web)
    assert isinstance(result, FetchFailed) and not result.transient  # permanent: no retries
    assert result.reason.startswith("refused: the redirect to ")
    assert f"is a {kind} address" in result.reason
    assert "HUBBOT_FEEDS_ALLOW_PRIVATE" in result.reason
    assert set(web.hosts) == {"feeds.example.org"}  # nothing was asked of the target


async def test_a_redirect_to_another_public_host_is_followed() -> None:
    web = Web({PUBLIC_FEED.url: redirect("https://mirror.example.org/rss.xml")})
    result = await fetch(PUBLIC_FEED, web)
    assert isinstance(result, Fetched) and result.final_url == "https://mirror.example.org/rss.xml"


async def test_a_feed_on_an_intranet_host_may_lead_to_other_internal_hosts() -> None:
    web = Web({INTRANET_FEED.url: redirect("http://10.20.30.41/feed.xml")})
    result = await fetch(INTRANET_FEED, web)
    assert isinstance(result, Fetched) and result.final_url == "http://10.20.30.41/feed.xml"


async def test_the_admin_may_allow_internal_addresses_for_every_feed() -> None:
    web = Web({PUBLIC_FEED.url: redirect("http://intranet.klinikum.example/feed.xml")})
    assert isinstance(await fetch(PUBLIC_FEED, web, allow_private=True), Fetched)


async def test_a_redirect_to_a_name_that_does_not_resolve_is_a_temporary_failure() -> None:
    web = Web({PUBLIC_FEED.url: redirect("http://nowhere.example.org/")})
    result = await fetch(PUBLIC_FEED, web)
    assert isinstance(result, FetchFailed) and result.transient
    assert "cannot resolve nowhere.example.org" in result.reason


async def test_a_feed_is_asked_without_resolving_anything_when_it_does_not_redirect() -> None:
    dns = Dns()
    async with FeedFetcher(transport=httpx.MockTransport(Web({})), resolver=dns) as fetcher:
        assert isinstance(await fetcher.fetch(PUBLIC_FEED), Fetched)
    assert dns.asked == Counter()


async def test_urls_a_csaf_provider_lists_cannot_lead_inside() -> None:
    provider = FeedConfig("csaf-provider", "https://csaf.example.org/provider-metadata.json",
                          timedelta(hours=1), type="csaf")
    metadata = {"distributions": [{"rolie": {"feeds": [
        {"tlp_label": "WHITE", "url": "https://feeds.example.org/white.json"},
        {"tlp_label": "WHITE", "url": "http://10.0.0.8/rolie.json"},
    ]}}]}
    rolie = {"feed": {"entry": [
        {"content": {"src": "http://169.254.169.254/latest/doc.json"}, "updated": "2026-01-02"},
        {"content": {"src": "http://2130706433/doc.json"}, "updated": "2026-01-01"},
    ]}}
    web = Web({provider.url: httpx.Response(200, json=metadata),
               "https://feeds.example.org/white.json": httpx.Response(200, json=rolie)})
    async with FeedFetcher(transport=httpx.MockTransport(web), resolver=Dns()) as fetcher:
        poll = await CsafSource(fetcher).poll(provider, {})
    assert poll.documents == [] and poll.error is None
    refused = sorted(p for p in poll.problems if "refused: the listed URL on" in p)
    assert len(refused) == 3, poll.problems
    assert any("10.0.0.8 is a private address" in p for p in refused)
    assert any("169.254.169.254 is a link-local address" in p for p in refused)
    assert any("2130706433 (127.0.0.1) is a loopback address" in p for p in refused)
    assert set(web.hosts) == {"csaf.example.org", "feeds.example.org"}


@pytest.mark.parametrize(("spelled", "address"), [
    ("2130706433", "127.0.0.1"), ("0x7f.1", "127.0.0.1"), ("127.1", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"), ("017700000001", "127.0.0.1"), ("127.0.0.1.", "127.0.0.1"),
    ("[::1]", "::1"), ("::ffff:7f00:1", "::ffff:7f00:1"), ("fe80::1%25eth0", "fe80::1%eth0"),
    ("0251.0376.0251.0376", "169.254.169.254"),
])
def test_every_spelling_of_an_address_is_read_as_that_address(spelled: str,
                                                             address: str) -> None:
    assert str(literal_address(spelled)) == address


@pytest.mark.parametrize("name", ["feeds.example.org", "deadbeef", "1e100.net", "x1.example"])
def test_names_are_left_to_the_resolver(name: str) -> None:
    assert literal_address(name) is None


@pytest.mark.parametrize(("address", "kind"), [
    ("127.0.0.1", "loopback"), ("127.255.0.9", "loopback"), ("10.1.2.3", "private"),
    ("172.16.0.1", "private"), ("192.168.178.1", "private"), ("169.254.169.254", "link-local"),
    ("100.64.0.1", "non-public"), ("0.0.0.0", "unspecified"), ("224.0.0.251", "multicast"),
    ("240.0.0.1", "reserved"), ("255.255.255.255", "reserved"), ("::1", "loopback"),
    ("fe80::1", "link-local"), ("fd00::1", "private"), ("::", "unspecified"),
    ("ff02::1", "multicast"), ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.0.0.1", "private"), ("64:ff9b::a9fe:a9fe", "link-local"),
    ("2002:7f00:1::", "loopback"), ("2001:db8::1", "private"),
])
def test_internal_addresses_are_named_for_what_they_are(address: str, kind: str) -> None:
    assert non_public(address) == kind


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111",
                                     "::ffff:93.184.216.34"])
def test_public_addresses_pass(address: str) -> None:
    assert non_public(address) is None
