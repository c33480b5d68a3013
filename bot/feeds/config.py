"""Which feeds to poll: `feeds.yaml`, validated, with errors an admin can act on."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.domain.feed_config import FEED_TYPES, FeedConfig
from bot.domain.tlp import Tlp

MIN_INTERVAL = timedelta(seconds=1)
# A feed polled less often than monthly is a typo, and a bigger number overflows timedelta.
MAX_INTERVAL = timedelta(days=30)
_FIELDS = ("name", "url", "interval", "tlp", "tags", "enabled", "type")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$", re.ASCII)
# Digits beyond this are no interval anyone means (and int() refuses over 4,300 of them).
_MAX_DIGITS: Final = 12


class FeedsFileError(ValueError):
    """feeds.yaml cannot be used; the message says where and what to change."""


def load_feeds(path: Path) -> list[FeedConfig]:
    """Read and validate a feeds file; raise FeedsFileError naming file, feed and field."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FeedsFileError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FeedsFileError(f"{path}: cannot be read: {exc}") from None
    return parse_feeds(text, origin=path.name)


def parse_feeds(text: str, origin: str) -> list[FeedConfig]:
    """Validate feeds YAML given as text; `origin` names it in error messages."""
    data = _load_yaml(text, origin)
    if not isinstance(data, dict) or "feeds" not in data:
        raise FeedsFileError(f"{origin}: expected a top-level 'feeds:' key holding a list of feeds")
    try:
        model = _FeedsFile.model_validate(data)
    except ValidationError as exc:
        raise FeedsFileError(_describe(exc, data, origin)) from None
    _check_unique_names(model.feeds, origin)
    return [
        FeedConfig(
            name=f.name,
            url=f.url,
            interval=f.interval,
            tlp=f.tlp,
            tags=tuple(f.tags),
            enabled=f.enabled,
            type=f.type,
        )
        for f in model.feeds
    ]


def parse_interval(value: object) -> timedelta:
    """`900` (seconds), `"90s"`, `"15m"`, `"1h30m"`, `"1d"` → timedelta; else ValueError.

    Between 1 second and 30 days: a bigger number is refused, never an OverflowError.
    """
    if isinstance(value, bool):
        raise ValueError(_INTERVAL_HELP)
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        seconds = _whole_number(value.strip())
    elif (
        isinstance(value, str) and (m := _DURATION.match(value.strip().lower())) and any(m.groups())
    ):
        days, hours, minutes, secs = (_whole_number(g or "0") for g in m.groups())
        seconds = ((days * 24 + hours) * 60 + minutes) * 60 + secs
    else:
        raise ValueError(_INTERVAL_HELP)
    if seconds < MIN_INTERVAL.total_seconds():
        raise ValueError(f"must be at least 1 second; {_INTERVAL_HELP}")
    if seconds > MAX_INTERVAL.total_seconds():
        raise ValueError(f"must be at most {MAX_INTERVAL.days} days ({MAX_INTERVAL.days}d); "
                         f"{_INTERVAL_HELP}")
    return timedelta(seconds=seconds)


def _whole_number(digits: str) -> int:
    """The number; a huge one as one larger than any bound, so the bound's message is shown."""
    if len(digits.lstrip("0")) > _MAX_DIGITS:
        return 10**_MAX_DIGITS
    return int(digits)


_INTERVAL_HELP = "write the interval as seconds (900) or with a unit: 90s, 15m, 1h, 1h30m, 1d"


class _Feed(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str
    url: str
    interval: timedelta
    tlp: Tlp = Tlp.CLEAR
    tags: list[str] = Field(default_factory=list)
    enabled: bool = True
    type: str = "rss"

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        if value not in FEED_TYPES:
            raise ValueError("use rss (RSS or Atom), csaf (provider-metadata.json or ROLIE), "
                             "kev (CISA's KEV catalog JSON) or epss (FIRST's EPSS API)")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or " " in value.strip():
            raise ValueError("must be an http:// or https:// URL with a host name")
        return value.strip()

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, value: object) -> timedelta:
        return parse_interval(value)

    @field_validator("tlp", mode="before")
    @classmethod
    def _tlp(cls, value: object) -> Tlp:
        if not isinstance(value, str):
            raise ValueError("use CLEAR, GREEN, AMBER, AMBER+STRICT or RED")
        return Tlp.parse(value)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        tags = [tag.strip() for tag in value]
        if any(not tag for tag in tags):
            raise ValueError("tags must not be empty")
        return tags

    @model_validator(mode="after")
    def _csaf_url(self) -> _Feed:
        # CSAF 2.0 §7.1.7 and §7.1.15: both a provider-metadata.json and a ROLIE feed are
        # JSON files named *.json; an HTML page or an RSS URL here is a copy-paste mistake.
        if self.type == "csaf" and not urlsplit(self.url).path.endswith(".json"):
            raise ValueError(
                "field 'url': a csaf feed's URL names the provider's provider-metadata.json "
                "(e.g. https://example.com/.well-known/csaf/provider-metadata.json) or one of "
                "its ROLIE feeds (a .json file)"
            )
        return self


class _FeedsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    feeds: list[_Feed] = Field(min_length=1)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice (YAML would silently keep the last), and
    keeps a number too long for `int` as its text, for the field to refuse by name."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {key!r} is given twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


def _construct_int(loader: _UniqueKeyLoader, node: yaml.ScalarNode) -> int | str:
    text = str(node.value)
    if sum(c.isdigit() for c in text) > _MAX_DIGITS:
        return text.replace("_", "")
    return int(yaml.SafeLoader.construct_yaml_int(loader, node))


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def _load_yaml(text: str, origin: str) -> object:
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = exc.problem or exc.context or "invalid YAML"
        if "block" in what:
            what += " (check the indentation of this line and the one above)"
        raise FeedsFileError(f"{origin}: {where}invalid YAML: {what}") from None
    except yaml.YAMLError as exc:
        raise FeedsFileError(f"{origin}: invalid YAML: {exc}") from None


def _describe(exc: ValidationError, data: dict[str, Any], origin: str) -> str:
    lines = []
    for error in exc.errors():
        loc = error["loc"]
        if len(loc) >= 2 and loc[0] == "feeds" and isinstance(loc[1], int):
            where = _feed_label(data, loc[1])
            field = ".".join(str(part) for part in loc[2:3])
            prefix = f"{origin}: {where}: field '{field}'" if field else f"{origin}: {where}"
        else:
            prefix = f"{origin}: " + (f"field '{loc[0]}'" if loc else "file")
        lines.append(f"{prefix}: {_explain(error)}")
    return "\n".join(dict.fromkeys(lines))


def _feed_label(data: dict[str, Any], index: int) -> str:
    feeds = data.get("feeds")
    entry = feeds[index] if isinstance(feeds, list) and index < len(feeds) else None
    name = entry.get("name") if isinstance(entry, dict) else None
    if isinstance(name, str) and name.strip():
        return f"feed {name!r} (#{index + 1})"
    return f"feed #{index + 1}"


def _explain(error: Any) -> str:
    kind = error["type"]
    loc = error["loc"]
    if kind == "missing":
        return "is required but missing"
    if kind == "extra_forbidden":
        allowed = ", ".join(_FIELDS) if len(loc) > 2 else "feeds"
        return f"unknown field; allowed fields are {allowed}"
    if kind == "too_short" and loc == ("feeds",):
        return "the list of feeds is empty; add at least one feed"
    if kind in ("list_type", "model_type") and loc == ("feeds",):
        return "must be a list of feeds, each starting with '- name: ...'"
    if kind == "model_type":
        return "must be a mapping with name, url, interval (and optionally tlp, tags, enabled)"
    if kind == "string_type":
        return "must be text"
    if kind == "bool_type":
        return "must be true or false"
    if kind == "list_type":
        return "must be a list, e.g. [medical, ics]"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    return str(error["msg"])


def _check_unique_names(feeds: list[_Feed], origin: str) -> None:
    first_seen: dict[str, int] = {}
    for index, feed in enumerate(feeds):
        if feed.name in first_seen:
            raise FeedsFileError(
                f"{origin}: feed {feed.name!r} (#{index + 1}): field 'name': the name is already "
                f"used by feed #{first_seen[feed.name] + 1}; feed names must be unique"
            )
        first_seen[feed.name] = index
