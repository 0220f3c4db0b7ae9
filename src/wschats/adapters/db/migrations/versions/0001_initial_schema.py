"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 22:14:58.833734
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "chats_user",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("picture_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_message", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chats_user")),
    )
    op.create_table(
        "directory_user",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_user")),
        sa.UniqueConstraint("email", name=op.f("uq_directory_user_email")),
    )
    op.create_table(
        "outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("room_key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_room", ["room_key", "id"], unique=False)

    op.create_table(
        "room",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=True),
        sa.Column("description", sa.String(length=256), nullable=True),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("picture_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("meeting_id", sa.Uuid(), nullable=True),
        sa.Column("one_to_one_key", sa.String(length=80), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["room.id"], name=op.f("fk_room_parent_id_room"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_room")),
        sa.UniqueConstraint("one_to_one_key", name=op.f("uq_room_one_to_one_key")),
    )
    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.create_index("ix_room_parent_rank", ["parent_id", "rank"], unique=False)

    op.create_table(
        "directory_token",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["directory_user.id"],
            name=op.f("fk_directory_token_user_id_directory_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_directory_token")),
    )
    with op.batch_alter_table("directory_token", schema=None) as batch_op:
        batch_op.create_index("ix_token_user", ["user_id"], unique=False)

    op.create_table(
        "file_metadata",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mime_type", sa.String(length=256), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("room_id", sa.Uuid(), nullable=True),
        sa.Column("area", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["room.id"],
            name=op.f("fk_file_metadata_room_id_room"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_file_metadata")),
    )
    with op.batch_alter_table("file_metadata", schema=None) as batch_op:
        batch_op.create_index(
            "ix_file_room_page", ["room_id", "type", "created_at", "id"], unique=False
        )
        batch_op.create_index("ix_file_user_type", ["user_id", "type"], unique=False)

    op.create_table(
        "meeting",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("room_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=True),
        sa.Column("meeting_type", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"], ["room.id"], name=op.f("fk_meeting_room_id_room"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting")),
        sa.UniqueConstraint("room_id", name=op.f("uq_meeting_room_id")),
    )
    op.create_table(
        "room_user_settings",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("room_id", sa.Uuid(), nullable=False),
        sa.Column("muted_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["room.id"],
            name=op.f("fk_room_user_settings_room_id_room"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "room_id", name=op.f("pk_room_user_settings")),
    )
    with op.batch_alter_table("room_user_settings", schema=None) as batch_op:
        batch_op.create_index("ix_settings_room", ["room_id"], unique=False)

    op.create_table(
        "subscription",
        sa.Column("room_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("owner", sa.Boolean(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"], ["room.id"], name=op.f("fk_subscription_room_id_room"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("room_id", "user_id", name=op.f("pk_subscription")),
    )
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.create_index("ix_subscription_user", ["user_id"], unique=False)

    op.create_table(
        "participant",
        sa.Column("meeting_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("queue_id", sa.Uuid(), nullable=True),
        sa.Column("audio_stream_on", sa.Boolean(), nullable=False),
        sa.Column("video_stream_on", sa.Boolean(), nullable=False),
        sa.Column("screen_stream_on", sa.Boolean(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meeting.id"],
            name=op.f("fk_participant_meeting_id_meeting"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("meeting_id", "user_id", name=op.f("pk_participant")),
    )


def downgrade() -> None:

    op.drop_table("participant")
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.drop_index("ix_subscription_user")

    op.drop_table("subscription")
    with op.batch_alter_table("room_user_settings", schema=None) as batch_op:
        batch_op.drop_index("ix_settings_room")

    op.drop_table("room_user_settings")
    op.drop_table("meeting")
    with op.batch_alter_table("file_metadata", schema=None) as batch_op:
        batch_op.drop_index("ix_file_user_type")
        batch_op.drop_index("ix_file_room_page")

    op.drop_table("file_metadata")
    with op.batch_alter_table("directory_token", schema=None) as batch_op:
        batch_op.drop_index("ix_token_user")

    op.drop_table("directory_token")
    with op.batch_alter_table("room", schema=None) as batch_op:
        batch_op.drop_index("ix_room_parent_rank")

    op.drop_table("room")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_room")

    op.drop_table("outbox")
    op.drop_table("directory_user")
    op.drop_table("chats_user")
