"""Webhook mode: only Telegram, who knows the secret token, can hand the bot an update. An
attacker who reaches the port and forges an update as an admin's user id is refused and nothing
happens; `hubbot run` does not start in webhook mode without a secret."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from bot.app.settings import Settings
from bot.domain.clock import utc_now
from bot.domain.members import Role
from bot.services import registrations
from tests.support.telegram_hub import StartTelegramHub, TelegramHub
from tests.support.telegram_server import TelegramServer

ADMIN = 100077
SECRET = "Vq3m_x-8dLr0ZkP2sTn5wYb7cJh4gF6e"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def webhook_hub(telegram_server: TelegramServer,
                      telegram_hub: StartTelegramHub) -> TelegramHub:
    telegram_server.add_private_chat(ADMIN)
    hub = await telegram_hub(feed_list=[],
                             admins=str(ADMIN),
                             telegram_webhook_url="https://hub.example.org/telegram",
                             telegram_webhook_port=free_port(),
                             telegram_webhook_secret=SECRET)
    registrations.add_member(hub.bot.store, "Org A", [], utc_now())
    return hub


def role_and_audit(hub: TelegramHub) -> tuple[Role, list[str]]:
    with hub.bot.store() as uow:
        member = uow.members.get("Org A")
        entries = uow.audit.latest(10)
    assert member is not None
    return member.role, [f"{e.actor} {e.action} {e.detail}" for e in entries]


async def test_a_forged_update_as_an_admin_is_refused_and_a_true_one_obeyed(
    webhook_hub: TelegramHub, caplog: pytest.LogCaptureFixture
) -> None:
    hub, telegram = webhook_hub, webhook_hub.telegram
    assert telegram.webhook()["url"] == "https://hub.example.org/telegram"
    assert telegram.webhook()["secret_token"] == SECRET  # Telegram sends it with each update
    telegram.user_sends(ADMIN, "/grant Org A coordinator")
    [update] = telegram.pending_updates()
    url = f"http://127.0.0.1:{hub.settings.telegram_webhook_port}/telegram"
    forged_headers: list[dict[str, str]] = [
        {}, {HEADER: ""}, {HEADER: "wrong"}, {HEADER: SECRET[:-1]}, {HEADER: SECRET + "x"},
        {HEADER: SECRET.upper()},
    ]
    async with httpx.AsyncClient() as client:
        for headers in forged_headers:
            forged = await client.post(url, json=update, headers=headers)
            assert forged.status_code == 403, headers
        await asyncio.sleep(1.0)  # anything queued would have been handled by now
        assert role_and_audit(hub) == (Role.MEMBER, [])
        assert telegram.messages_to(ADMIN) == []
        refusals = [r.getMessage() for r in caplog.records if "webhook: refused" in r.getMessage()]
        assert len(refusals) == 1 and "refused 1 request(s)" in refusals[0]  # not one a request

        real = await client.post(url, json=update, headers={HEADER: SECRET})
        assert real.status_code == 200
    [answer] = await telegram.wait_for_messages(ADMIN, 1)
    assert "Org A is now a coordinator" in (answer.text or "")
    role, audit = role_and_audit(hub)
    assert role == Role.COORDINATOR
    assert audit == [f"telegram:{ADMIN} grant Org A: coordinator"]


async def test_a_request_with_the_secret_but_no_update_is_answered_400(
    webhook_hub: TelegramHub,
) -> None:
    url = f"http://127.0.0.1:{webhook_hub.settings.telegram_webhook_port}/telegram"
    async with httpx.AsyncClient() as client:
        garbage = await client.post(url, content=b"{not json", headers={HEADER: SECRET})
    assert garbage.status_code == 400
    assert role_and_audit(webhook_hub) == (Role.MEMBER, [])


async def test_the_webhook_server_stops_with_the_bot(telegram_hub: StartTelegramHub) -> None:
    port = free_port()
    hub = await telegram_hub(feed_list=[],
                             telegram_webhook_url="https://hub.example.org/telegram",
                             telegram_webhook_port=port, telegram_webhook_secret=SECRET)
    await hub.stop()
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.post(f"http://127.0.0.1:{port}/telegram", json={}, timeout=2)


async def test_the_bot_does_not_start_a_webhook_without_its_secret(
    telegram_server: TelegramServer, telegram_hub: StartTelegramHub
) -> None:
    port = free_port()
    with pytest.raises(ValueError, match="HUBBOT_TELEGRAM_WEBHOOK_SECRET is not"):
        await telegram_hub(feed_list=[], telegram_webhook_url="https://hub.example.org/telegram",
                           telegram_webhook_port=port)
    assert telegram_server.webhook() is None  # Telegram was never told to post anywhere


def test_hubbot_run_refuses_webhook_mode_without_a_secret(hubbot) -> None:
    hubbot.write_feeds("feeds: []\n")
    hubbot.extra_env = {"HUBBOT_TELEGRAM_TOKEN": "123456:ABCdefGHIjklMNOpqrSTUvwxYZ",
                        "HUBBOT_TELEGRAM_BASE_URL": "http://127.0.0.1:9/bot",
                        "HUBBOT_TELEGRAM_WEBHOOK_URL": "https://hub.example.org/telegram"}
    result = hubbot("run", timeout=30)
    assert result.code == 1
    assert "HUBBOT_TELEGRAM_WEBHOOK_SECRET is not" in result.err
    assert "secrets.token_urlsafe" in result.err  # how to make one
    assert not (hubbot.home / "data").exists()  # it stopped before touching anything


@pytest.mark.parametrize("secret", ["has space", "ümlaut", "semi;colon", "x" * 257])
def test_a_secret_telegram_would_refuse_is_a_configuration_error(secret: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="1 to 256 characters") as caught:
        Settings(telegram_webhook_secret=secret)
    assert secret not in str(caught.value.errors()[0]["msg"])  # the value is not echoed


def test_a_secret_of_every_allowed_character_is_taken() -> None:
    allowed = "ABCXYZabcxyz0189_-"
    settings = Settings(telegram_webhook_secret=allowed)
    assert settings.telegram_webhook_secret is not None
    assert settings.telegram_webhook_secret.get_secret_value() == allowed
    assert Settings(telegram_webhook_secret="").telegram_webhook_secret is None
