"""The console channel: alerts printed for a person and appended as JSON lines for a program."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bot.domain.language import _, speaking
from bot.domain.members import Network
from bot.domain.outbox_payload import AlertMessage, TextMessage
from bot.domain.queued_messages import OutboxItem
from bot.domain.rendering import alert_ref_line, render_alert_text
from bot.outbox.channel import DeliveryError, rendering

_RULE = "─" * 78


class ConsoleChannel:
    network = Network.CONSOLE
    connected = True

    def __init__(self, jsonl_path: Path | None, stream: TextIO | None = None) -> None:
        self._path = jsonl_path
        self._stream = stream

    async def start(self) -> None:
        if self._path is not None:
            self._path.parent.mkdir(parents=True, exist_ok=True)

    async def stop(self) -> None:
        return None

    async def send(self, item: OutboxItem) -> str | None:
        message = item.payload
        if not isinstance(message, AlertMessage):
            return self._show_text(item, message)
        alert = message.alert
        with rendering(), speaking(message.language):
            ref_line = alert_ref_line(message)
            text = render_alert_text(alert) + (f"\n{ref_line}" if ref_line else "")
        if self._path is not None:
            record = {
                "delivered_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "outbox_id": item.id,
                "member": alert.member,
                "advisory_id": alert.advisory.id,
                "ref": message.ref,
                "title": alert.advisory.title,
                "severity": alert.advisory.severity.label if alert.advisory.severity else None,
                "cvss": alert.advisory.cvss,
                "cves": list(alert.advisory.cves),
                "tlp": alert.advisory.tlp.label,
                "link": alert.advisory.link,
                "products": [
                    {"vendor": p.vendor, "product": p.product, "why": p.why}
                    for p in alert.products
                ],
            }
            try:
                with self._path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(record, ensure_ascii=False) + "\n")
            except OSError as exc:
                raise DeliveryError(f"cannot write {self._path}: {exc}", transient=True) from exc
        # Printed after the file is written: a failed write is retried, and must not print twice.
        stream = self._stream or sys.stdout
        print(f"{_RULE}\n{text}", file=stream, flush=True)
        return f"console:{item.id}"

    def _show_text(self, item: OutboxItem, message: TextMessage) -> str:
        """Announcements, meeting notices, replies: printed (a file attached is named)."""
        text = message.text
        attachment = message.attachment
        if attachment is not None:
            with speaking(message.language):
                text += "\n" + _("(attached: {filename})").format(filename=attachment.filename)
        print(f"{_RULE}\n[{item.kind}] {item.address}\n{text}", file=self._stream or sys.stdout,
              flush=True)
        return f"console:{item.id}"
