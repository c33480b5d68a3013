"""A failed statement logged with its traceback names no product: SQLAlchemy hides the
parameters, and PostgreSQL's DETAIL line (which quotes the row) is masked."""

from __future__ import annotations

import logging
from io import StringIO

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bot.app import log_redaction
from bot.store.database import create_db_engine

PRODUCT = "Quortex Infusor 9000"


def test_a_failed_insert_logs_no_product_name(database_url: str) -> None:
    engine = create_db_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE registered (product VARCHAR(100) UNIQUE)"))
        conn.execute(text("INSERT INTO registered VALUES (:p)"), {"p": PRODUCT})
    stream = StringIO()
    handler = log_redaction.configure("INFO", [], stream=stream)
    try:
        with pytest.raises(IntegrityError), engine.begin() as conn:
            try:
                conn.execute(text("INSERT INTO registered VALUES (:p)"), {"p": PRODUCT})
            except IntegrityError:
                logging.getLogger("bot.test").exception("registering a product failed")
                raise
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(logging.WARNING)
        for name in (*log_redaction.CONTENT_AT_INFO, *log_redaction.CONTENT_AT_DEBUG,
                     *log_redaction.QUIET):
            logging.getLogger(name).setLevel(logging.NOTSET)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE registered"))
        engine.dispose()
    logged = stream.getvalue()
    assert "registering a product failed" in logged and "IntegrityError" in logged
    assert "Quortex" not in logged, logged
