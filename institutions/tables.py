"""The directory's tables (SQLAlchemy Core): institutions, the roles they fill, users, and
the revision counter that says when the directory last changed."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from institutions.sqltypes import NAMING_CONVENTION, UtcDateTime

metadata = MetaData(naming_convention=NAMING_CONVENTION)

UtcStamp = UtcDateTime()

institutions = Table(
    "institutions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("country", String(2), nullable=False),
    Column("jurisdiction", String(16), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("emails", JSON, nullable=False),
    Column("locale", String(5), nullable=False),
    Column("active", Boolean, nullable=False),
)

institution_roles = Table(
    "institution_roles",
    metadata,
    Column("institution_id", String(64), ForeignKey("institutions.id"), primary_key=True),
    Column("role", String(64), primary_key=True),
    Index("ix_institution_roles_role", "role"),
)

# One row: bumped by database triggers on every change to `institutions` and
# `institution_roles` (migration 0009), so a process may keep the directory and re-read it
# only when this moved.
directory_revision = Table(
    "directory_revision",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("revision", BigInteger, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("institution_id", String(64), ForeignKey("institutions.id"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("countries", JSON, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("email", String(200)),  # where escalations to managers go
    Column("password_hash", String(200)),
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("locked_until", UtcStamp),
)
