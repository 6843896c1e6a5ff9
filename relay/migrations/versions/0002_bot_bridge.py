"""bot bridge: its outbox and processed replies; an index for the send queue

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 02:45:56.787285
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "botoutbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("amqp_message_id", sa.String(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("botoutbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_botoutbox_published_at"), ["published_at"], unique=False
        )

    op.create_table(
        "botreply",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.create_index(
            "ix_message_queued",
            ["id"],
            unique=False,
            sqlite_where=sa.text("status = 'queued'"),
            postgresql_where=sa.text("status = 'queued'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("ix_message_queued")
    op.drop_table("botreply")
    with op.batch_alter_table("botoutbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_botoutbox_published_at"))

    op.drop_table("botoutbox")
