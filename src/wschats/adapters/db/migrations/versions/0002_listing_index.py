"""a user's subscriptions in one index, room ids included

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 20:30:00

The room listing reads a user's room ids from this index alone (an index-only scan), so its
cost follows the user's rooms and not the table's. It replaces the index on user_id only,
which it covers.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_subscription_user_room", "subscription", ["user_id", "room_id"])
    op.drop_index("ix_subscription_user", table_name="subscription")


def downgrade() -> None:
    op.create_index("ix_subscription_user", "subscription", ["user_id"])
    op.drop_index("ix_subscription_user_room", table_name="subscription")
