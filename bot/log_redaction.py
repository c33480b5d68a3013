"""Secrets never reach the logs: every formatted line is scrubbed of the configured secrets.

Libraries log URLs that carry tokens (python-telegram-bot at DEBUG logs its API URL, which
contains the bot token), so scrubbing at the formatter catches what no call site can.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

MASK = "***"


class RedactingFormatter(logging.Formatter):
    def __init__(self, fmt: str, secrets: Iterable[str]) -> None:
        super().__init__(fmt)
        # Longest first, so a secret containing another is masked whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text


def install(secrets: Iterable[str], fmt: str) -> None:
    """Put the redacting formatter on every handler of the root logger."""
    formatter = RedactingFormatter(fmt, secrets)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
