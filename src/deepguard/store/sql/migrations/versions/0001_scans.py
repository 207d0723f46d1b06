"""Scan history: the scans and findings tables.

Revision ID: 0001
Revises:
Create Date: 2025-11-21

Self-contained on purpose: a migration must keep producing this schema after
``models.py`` moves on, so it imports nothing from deepguard.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.types.TypeEngine[int]:
    # 64-bit ids, except on SQLite where only INTEGER is an autoincrement rowid.
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create ``scans`` and ``findings`` with their indexes."""
    op.create_table(
        "scans",
        sa.Column("id", _id(), nullable=False),
        sa.Column("scanned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("mime", sa.String(length=255), nullable=True),
        sa.Column("aigc_label", sa.String(length=1), nullable=True),
        sa.Column("verdict_reasons", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("schema_version", sa.String(length=64), nullable=False),
        sa.Column("deepguard_version", sa.String(length=64), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scans"),
    )
    op.create_index("ix_scans_scanned_at", "scans", ["scanned_at"])
    op.create_index("ix_scans_sha256", "scans", ["sha256"])
    op.create_index("ix_scans_aigc_label", "scans", ["aigc_label"])

    op.create_table(
        "findings",
        sa.Column("id", _id(), nullable=False),
        sa.Column("scan_id", _id(), nullable=False),
        sa.Column("detector", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=128), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("where", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["scan_id"],
            ["scans.id"],
            name="fk_findings_scan_id_scans",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_findings"),
    )
    op.create_index("ix_findings_scan_id", "findings", ["scan_id"])
    op.create_index("ix_findings_kind", "findings", ["kind"])


def downgrade() -> None:
    """Drop both tables (and with them every stored scan)."""
    op.drop_index("ix_findings_kind", table_name="findings")
    op.drop_index("ix_findings_scan_id", table_name="findings")
    op.drop_table("findings")
    op.drop_index("ix_scans_aigc_label", table_name="scans")
    op.drop_index("ix_scans_sha256", table_name="scans")
    op.drop_index("ix_scans_scanned_at", table_name="scans")
    op.drop_table("scans")
