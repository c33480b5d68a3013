"""What reaches the logs: never a secret, an invite code, a message's text or a product list.

- Libraries that log what goes over the wire are held back: python-telegram-bot logs every Bot
  API call with its parameters and answer at DEBUG (message texts, members' commands with their
  product names, invite codes), httpcore and hpack headers, SQLAlchemy every statement with its
  parameters already at INFO, peewee (nio's key store) its statements at DEBUG, httpx every URL
  (tokens) at INFO. Every third-party logger is held at INFO (some at WARNING) unless the admin
  sets HUBBOT_LOG_WIRE=true; the bot's own loggers (`bot.*`) log no content at any level.
- Every formatted line is scrubbed of the configured secrets (python-telegram-bot's API URL
  contains the bot token), of invite codes after `/start` or `!start`, which no call site
  could catch in a library's line, and of PostgreSQL's error details (they quote the row).
  The database engine hides statements' parameters from its errors (`hide_parameters`).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import TextIO

MASK = "***"
OWN_LOGGERS = ("bot", "__main__")
# Loggers that print content at INFO: held at WARNING even when the rest is at INFO (ioc-fanger
# logs each pasted text it re-fangs, with the indicators in it).
CONTENT_AT_INFO = ("sqlalchemy", "httpx", "ioc_fanger", "ioc_finder", "pymisp", "stix2")
# Loggers that print what they sent and received at DEBUG.
CONTENT_AT_DEBUG = ("telegram", "httpcore", "hpack", "h2", "nio", "peewee", "aiohttp",
                    "tornado", "urllib3")
# Noise at INFO, whatever the wire setting.
QUIET = ("apscheduler", "alembic")
# `/start CODE`, `!start CODE`, `/start@hubbot CODE`: the code is a one-time credential.
_INVITE = re.compile(r"([/!]start(?:@[\w.]+)?[ \t]+)[^\s\"'\\<>]+", re.IGNORECASE)
# PostgreSQL's error detail quotes the row's values ("Key (vendor, product)=(…) already exists").
_DB_DETAIL = re.compile(r"(DETAIL:)[^\n]*")
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class RedactingFormatter(logging.Formatter):
    def __init__(self, fmt: str, secrets: Iterable[str]) -> None:
        super().__init__(fmt)
        # Longest first, so a secret containing another is masked whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return _DB_DETAIL.sub(rf"\g<1> {MASK}", _INVITE.sub(rf"\g<1>{MASK}", text))


class WireFilter(logging.Filter):
    """Drops third-party DEBUG records (a library not named above may log bodies too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.INFO:
            return True
        return record.name.split(".", 1)[0] in OWN_LOGGERS


def configure(level: str, secrets: Iterable[str], *, wire: bool = False,
              stream: TextIO | None = None) -> logging.Handler:
    """The bot's logging: one handler on the root logger at `level`, redacting; third-party
    loggers held back unless `wire`. Returns the handler (a test removes it again)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingFormatter(FORMAT, secrets))
    if not wire:
        handler.addFilter(WireFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    for name in CONTENT_AT_INFO:
        logging.getLogger(name).setLevel(logging.NOTSET if wire else logging.WARNING)
    for name in CONTENT_AT_DEBUG:
        logging.getLogger(name).setLevel(logging.NOTSET if wire else logging.INFO)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler
