"""Alembic environment: runs on the engine `ruta init` hands over (never from a .ini URL)."""

from __future__ import annotations

from alembic import context

from ruta.db import METADATA

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=METADATA,
        render_as_batch=engine.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()
