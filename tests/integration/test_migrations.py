"""The migrations produce exactly the models' schema, on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from ruta.db import METADATA, current_revision, upgrade


def test_migrations_match_the_models(bare_engine):
    upgrade(bare_engine)
    with bare_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        # alembic compares several MetaData as it does one (its stub says one)
        diff = compare_metadata(context, METADATA)  # type: ignore[arg-type]
    assert diff == []
    tables = set(inspect(bare_engine).get_table_names())
    assert {t.name for md in METADATA for t in md.sorted_tables} <= tables


def test_upgrade_twice_is_a_no_op(bare_engine):
    upgrade(bare_engine)
    first = current_revision(bare_engine)
    upgrade(bare_engine)
    assert current_revision(bare_engine) == first is not None
