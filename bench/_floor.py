"""The floor for `bench/intake.py`: a bare durable insert behind Flask, nothing else.

One route takes the same JSON body as an incident submission and inserts it as one row,
through the portal's own engine settings (SQLite WAL + synchronous=FULL, or PostgreSQL),
then commits. No validation, no deadlines, no audit, no outbox: what is left is the price
of a durable commit, which the real submission path is measured against.

`python -m bench._floor PORT WORKERS THREADS [WORKER_CLASS]` serves it through the very
gunicorn set-up of `portal serve` (`portal.commands.cases.Gunicorn`), so the two differ only
in the app; or with another worker class (`gthread`: gunicorn's own).
"""

from __future__ import annotations

import os
import sys

from flask import Flask, request
from sqlalchemy import Column, Integer, MetaData, Table, Text, insert

from portal.cases.db import make_engine

metadata = MetaData()
rows = Table(
    "bench_floor",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("body", Text, nullable=False),
)


def create_app(threads: int = 8) -> Flask:
    """The floor app; its table is created beforehand (`metadata.create_all`).

    One pooled connection per request thread: with SQLAlchemy's default pool (5, and 10
    more opened and closed on demand), eight threads would open a new PostgreSQL connection
    for many of their requests, and the floor would measure that instead.
    """
    app = Flask(__name__)
    engine = make_engine(os.environ["BENCH_DATABASE_URL"], pool_size=threads, max_overflow=0)

    @app.post("/insert")
    def insert_row() -> tuple[dict[str, int], int]:
        body = request.get_data(as_text=True)
        with engine.begin() as connection:
            new_id = connection.execute(insert(rows).values(body=body)).inserted_primary_key
        return {"id": int(new_id[0]) if new_id else 0}, 201

    return app


def main(argv: list[str]) -> None:
    from portal.commands.cases import Gunicorn

    port, workers, threads = (int(arg) for arg in argv[:3])
    Gunicorn("127.0.0.1", port, workers, threads, app_factory=lambda: create_app(threads)).run()


if __name__ == "__main__":
    main(sys.argv[1:])
