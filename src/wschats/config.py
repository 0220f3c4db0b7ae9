"""Every setting of wschats, in one place. Environment variables use the prefix `WSC_`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from wschats.domain.model import Capabilities


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WSC_", extra="ignore")

    # Serving
    host: str = "127.0.0.1"
    port: int = 10000
    base_path: str = ""  # e.g. /services/chats: every path is also served under it
    data_dir: Path = Path("./data")
    web_dir: Path | None = None  # the built web client; default: web/dist of the checkout

    # Operations: logs and metrics
    log_format: Literal["json", "text"] = "json"  # how `wschats serve` writes its logs
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    metrics: bool = False  # Prometheus metrics at /metrics
    metrics_token: str | None = None  # when set, /metrics needs `Authorization: Bearer <it>`

    # Request limits, always on; rate limits per user and minute (0: none)
    max_header_kb: int = Field(16, ge=1)  # a larger request head gets 431 (h11: 400)
    http_parser: Literal["h11", "httptools"] = "httptools"
    max_json_body_kb: int = Field(1024, ge=1)
    max_list_length: int = Field(1000, ge=1)
    rate_limit_read_per_minute: int = Field(0, ge=0)
    rate_limit_write_per_minute: int = Field(0, ge=0)
    rate_limit_upload_per_minute: int = Field(0, ge=0)

    # Database: a SQLite file in data_dir by default, or postgresql://...
    database_url: str | None = None
    database_pool_size: int = 10
    database_timeout_seconds: float = 5.0

    # Identity (built-in directory)
    token_ttl_seconds: int = 30 * 24 * 3600
    cookie_secure: bool = False
    # Identity: the built-in directory, or the original's user-management HTTP service
    identity: Literal["builtin", "usermanagement"] = "builtin"
    identity_url: str | None = None  # e.g. http://127.78.0.4:20001
    identity_timeout_seconds: float = Field(5.0, gt=0)
    identity_cache_seconds: float = Field(60.0, ge=0)  # 0: every request asks

    # Storage: local folder under data_dir by default, or s3://bucket
    storage_url: str | None = None
    s3_endpoint_url: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str = "us-east-1"
    s3_create_bucket: bool = False
    max_attachment_size_mb: int = 100

    # Previews
    preview_workers: int = 2
    preview_max_pixels: int = 50_000_000
    preview_timeout_seconds: float = 60.0
    preview_memory_cache_mb: int = Field(64, ge=0)  # small previews also kept in memory

    # Events: in-process by default, or amqp://...
    events_url: str | None = None
    events_queue_size: int = 1000

    # XMPP: none by default
    xmpp: Literal["none", "ejabberd", "mongooseim"] = "none"
    xmpp_url: str | None = None
    xmpp_username: str | None = None
    xmpp_password: str | None = None
    xmpp_domain: str = "carbonio"
    xmpp_muc_service: str | None = None  # ejabberd: default muclight.<domain>
    xmpp_timeout_seconds: float = 5.0
    # The XMPP websocket as browsers reach it; default ws://<host of WSC_XMPP_URL>/ws (ejabberd)
    xmpp_websocket_url: str | None = None
    # XMPP sign-in (`wschats xmpp-auth`, run by ejabberd): the longest a sign-in may take
    xmpp_auth_timeout_seconds: float = Field(5.0, gt=0)

    # Capabilities (original-behaviour §11)
    can_see_message_reads: bool = True
    can_see_users_presence: bool = True
    can_video_call: bool = True
    can_video_call_record: bool = True
    can_use_virtual_background: bool = True
    edit_message_time_limit_in_minutes: int = Field(10, ge=0)
    delete_message_time_limit_in_minutes: int = Field(10, ge=0)
    max_group_members: int = Field(128, ge=2)
    max_room_image_size_in_kb: int = Field(512, ge=1)
    max_user_image_size_in_kb: int = Field(512, ge=1)

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'wschats.db').resolve()}"

    def capabilities(self) -> Capabilities:
        return Capabilities(
            can_see_message_reads=self.can_see_message_reads,
            can_see_users_presence=self.can_see_users_presence,
            can_video_call=self.can_video_call,
            can_video_call_record=self.can_video_call_record,
            can_use_virtual_background=self.can_use_virtual_background,
            edit_message_time_limit_in_minutes=self.edit_message_time_limit_in_minutes,
            delete_message_time_limit_in_minutes=self.delete_message_time_limit_in_minutes,
            max_group_members=self.max_group_members,
            max_room_image_size_in_kb=self.max_room_image_size_in_kb,
            max_user_image_size_in_kb=self.max_user_image_size_in_kb,
        )
