"""No one but the bot's user reads its data: members' product lists are in the database, alert
texts in the console's log, keys and tokens in the Matrix store. Real files, real modes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.channels.matrix_client import MatrixConfig, MatrixSession
from bot.store.database import create_db_engine

FEEDS = "feeds:\n  - name: x\n    url: http://127.0.0.1:9/x.xml\n    interval: 1h\n"
WARNING = "other users of this machine can read the bot's data"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask():
    """The umask most installs have, so a test proves the bot's own modes, not the test's."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def test_a_new_install_is_readable_by_the_bots_user_only(hubbot) -> None:
    hubbot.write_feeds(FEEDS)
    assert hubbot("member", "add", "Klinikum Nord").code == 0
    assert hubbot("product", "add", "Klinikum Nord", "Dräger", "Infinity Delta").code == 0
    data = hubbot.home / "data"
    assert mode(data) == 0o700
    files = sorted(data.iterdir())
    assert data / "hubbot.db" in files
    assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}


def test_the_database_and_its_journal_files_are_private_when_created(tmp_path: Path) -> None:
    database = tmp_path / "new" / "hub.db"
    engine = create_db_engine(f"sqlite:///{database}")
    with engine.connect() as conn:  # WAL: -wal and -shm exist while a connection is open
        conn.execute(text("CREATE TABLE t (x TEXT)"))
        conn.execute(text("INSERT INTO t VALUES ('Infinity Delta')"))
        conn.commit()
        made = sorted(database.parent.iterdir())
        assert [p.name for p in made] == ["hub.db", "hub.db-shm", "hub.db-wal"]
        assert {p.name: mode(p) for p in made} == {p.name: 0o600 for p in made}
    engine.dispose()
    assert mode(database.parent) == 0o700


async def test_hubbot_run_warns_once_when_others_can_read_an_old_install(hubbot) -> None:
    hubbot.write_feeds(FEEDS)
    assert hubbot("member", "add", "Klinikum Nord").code == 0
    data = hubbot.home / "data"
    store = data / "matrix"  # an old Matrix store too
    store.mkdir()
    (store / "credentials.json").write_text("{}")
    os.chmod(data, 0o755)  # as installs made before this release are
    os.chmod(data / "hubbot.db", 0o644)
    os.chmod(store, 0o755)
    os.chmod(store / "credentials.json", 0o644)

    first = await run_until_started(hubbot)
    [line] = [x for x in first.splitlines() if WARNING in x]
    assert " WARNING " in line
    for path in (data, data / "hubbot.db", store, store / "credentials.json"):
        assert str(path) in line
    assert f"{data} (0755)" in line and f"{data / 'hubbot.db'} (0644)" in line
    fix = line.split("fix: ", 1)[1]
    assert fix.startswith("chmod go-rwx ")
    admin = await asyncio.create_subprocess_shell(fix)  # the admin runs what the line says
    assert await admin.wait() == 0

    assert mode(data) == 0o700 and mode(data / "hubbot.db") == 0o600
    assert WARNING not in await run_until_started(hubbot)


async def run_until_started(hubbot) -> str:
    """`hubbot run` until it says it runs, then SIGTERM; its log."""
    log = hubbot.home / f"run-{len(list(hubbot.home.glob('run-*')))}.log"
    with log.open("w") as err:
        proc = await asyncio.create_subprocess_exec(
            *hubbot.command("run"), env=hubbot.env, cwd=hubbot.home,
            stdout=asyncio.subprocess.DEVNULL, stderr=err)
        try:
            for _ in range(600):
                if "hubbot running" in log.read_text() or proc.returncode is not None:
                    break
                await asyncio.sleep(0.1)
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
    text_ = log.read_text()
    assert "hubbot running" in text_, text_
    return text_


async def test_the_matrix_store_and_its_keys_are_private(tmp_path: Path) -> None:
    store = tmp_path / "matrix"
    store.mkdir(mode=0o755)
    credentials = store / "credentials.json"
    credentials.write_text(json.dumps({
        "homeserver": "http://127.0.0.1:9", "user_id": "@bot:localhost", "device_id": "DEV",
        "access_token": "tok"}))
    os.chmod(credentials, 0o644)
    session = MatrixSession(MatrixConfig("http://127.0.0.1:9", "@bot:localhost", store,
                                         request_timeout=2))
    try:
        await session.connect()  # restores the login (nio makes its key store), then no server
    except Exception:
        pass
    finally:
        await session.close()
    made = sorted(store.rglob("*"))
    names = {p.name for p in made}
    assert {"credentials.json", "pickle_key", "@bot:localhost_DEV.db"} <= names
    assert mode(store) == 0o700
    assert {p.name: mode(p) for p in made} == {p.name: 0o600 for p in made}
