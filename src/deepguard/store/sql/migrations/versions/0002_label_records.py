"""Label records: the producer's GB 45438 fields, found again by watermark.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

Self-contained on purpose: a migration must keep producing this schema after
``models.py`` moves on, so it imports nothing from deepguard.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.types.TypeEngine[int]:
    # 64-bit ids, except on SQLite where only INTEGER is an autoincrement rowid.
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create ``label_records`` with its payload index."""
    op.create_table(
        "label_records",
        sa.Column("id", _id(), nullable=False),
        sa.Column("producer_tag", sa.Integer(), nullable=False),
        sa.Column("content_id", sa.BigInteger(), nullable=False),
        sa.Column("producer", sa.String(length=64), nullable=False),
        sa.Column("produce_id", sa.Text(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("path", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_records")),
    )
    op.create_index(
        "ix_label_records_payload",
        "label_records",
        ["producer_tag", "content_id"],
        unique=False,
    )


def downgrade() -> None:
    """Drop ``label_records``."""
    op.drop_index("ix_label_records_payload", table_name="label_records")
    op.drop_table("label_records")
