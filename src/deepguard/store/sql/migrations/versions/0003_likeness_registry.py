"""Likeness registry: people, face and voice references, accounts, grants.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

Self-contained on purpose: a migration must keep producing this schema after
``models.py`` moves on, so it imports nothing from deepguard.

Every table of a person refers to ``people`` with ON DELETE CASCADE. The
unique (platform, handle_key) index is the account lookup; the unique
(person_id, sha256) indexes also serve "references of a person". The one row
of ``registry_state`` counts changes, so a cached matching index knows when it
is stale.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.types.TypeEngine[int]:
    # 64-bit ids, except on SQLite where only INTEGER is an autoincrement rowid.
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _person_id(table: str) -> tuple[sa.Column[int], sa.ForeignKeyConstraint]:
    """The ``person_id`` column of a table and its cascading foreign key."""
    return (
        sa.Column("person_id", _id(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=f"fk_{table}_person_id_people",
            ondelete="CASCADE",
        ),
    )


def upgrade() -> None:
    """Create the registry tables and the revision counter at 0."""
    op.create_table(
        "people",
        sa.Column("id", _id(), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("verification", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_people"),
    )
    for modality in ("face", "voice"):
        table = f"{modality}_references"
        specific = (
            [
                sa.Column("box_left", sa.Integer(), nullable=False),
                sa.Column("box_top", sa.Integer(), nullable=False),
                sa.Column("box_width", sa.Integer(), nullable=False),
                sa.Column("box_height", sa.Integer(), nullable=False),
                sa.Column("quality", sa.Float(), nullable=False),
            ]
            if modality == "face"
            else [sa.Column("speech_s", sa.Float(), nullable=False)]
        )
        op.create_table(
            table,
            sa.Column("id", _id(), nullable=False),
            *_person_id(table),
            sa.Column("sha256", sa.String(length=64), nullable=False),
            *specific,
            sa.Column("embedding", sa.LargeBinary(), nullable=False),
            sa.Column("source", sa.Text(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
            sa.UniqueConstraint(
                "person_id", "sha256", name=f"uq_{table}_person_id_sha256"
            ),
        )
    op.create_table(
        "official_accounts",
        sa.Column("id", _id(), nullable=False),
        *_person_id("official_accounts"),
        sa.Column("platform", sa.String(length=64), nullable=False),
        sa.Column("handle", sa.String(length=256), nullable=False),
        sa.Column("handle_key", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_official_accounts"),
        sa.UniqueConstraint(
            "platform",
            "handle_key",
            name="uq_official_accounts_platform_handle_key",
        ),
    )
    op.create_index(
        "ix_official_accounts_person_id", "official_accounts", ["person_id"]
    )
    op.create_table(
        "authorisations",
        sa.Column("id", _id(), nullable=False),
        *_person_id("authorisations"),
        sa.Column("grantee", sa.String(length=512), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_authorisations"),
    )
    op.create_index("ix_authorisations_person_id", "authorisations", ["person_id"])
    state = op.create_table(
        "registry_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_registry_state"),
    )
    op.bulk_insert(state, [{"id": 1, "revision": 0}])


def downgrade() -> None:
    """Drop the registry (and with it every enrolled person)."""
    op.drop_table("registry_state")
    op.drop_index("ix_authorisations_person_id", table_name="authorisations")
    op.drop_table("authorisations")
    op.drop_index("ix_official_accounts_person_id", table_name="official_accounts")
    op.drop_table("official_accounts")
    op.drop_table("voice_references")
    op.drop_table("face_references")
    op.drop_table("people")
