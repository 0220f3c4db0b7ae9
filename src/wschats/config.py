"""Every setting of wschats, in one place. Environment variables use the prefix `WSC_`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from wschats.domain.model import Capabilities


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WSC_", extra="ignore")

    # Serving
    host: str = "127.0.0.1"
    port: int = 10000
    base_path: str = ""  # e.g. /services/chats: every path is also served under it
    data_dir: Path = Path("./data")
    api_docs: bool = True  # Swagger UI at /docs, its assets served by wschats (no CDN)
    web_dir: Path | None = None  # the built web client; default: web/dist of the checkout

    # Operations: logs and metrics
    # How `wschats serve` writes its logs; auto: text on a terminal, JSON otherwise
    log_format: Literal["auto", "json", "text"] = "auto"
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    metrics: bool = False  # Prometheus metrics at /metrics
    metrics_token: str | None = None  # when set, /metrics needs `Authorization: Bearer <it>`

    # Request limits, always on; rate limits per user and minute (0: none)
    max_header_kb: int = Field(16, ge=1)  # a larger request head gets 431 (h11: 400)
    http_parser: Literal["h11", "httptools"] = "httptools"
    # Reading a request (httptools parser): a head within this time, no body pause longer
    request_head_timeout_seconds: float = Field(10.0, gt=0)
    request_body_timeout_seconds: float = Field(30.0, gt=0)
    max_connections: int = Field(0, ge=0)  # per process; 0: from the descriptor limit
    max_json_body_kb: int = Field(1024, ge=1)
    max_list_length: int = Field(1000, ge=1)
    rate_limit_read_per_minute: int = Field(0, ge=0)
    rate_limit_write_per_minute: int = Field(0, ge=0)
    rate_limit_upload_per_minute: int = Field(0, ge=0)

    # Abuse: failed logins allowed per account and client address, per address, per account
    # (a burst of N, then N more over the window; 0: no limit), and password hashing threads
    login_failures_per_account_and_address: int = Field(10, ge=0)
    login_failures_per_address: int = Field(100, ge=0)
    login_failures_per_account: int = Field(50, ge=0)
    login_failure_window_seconds: float = Field(900.0, gt=0)
    password_hash_workers: int = Field(2, ge=1)
    password_hash_queue: int = Field(32, ge=0)  # logins waiting for a worker; more get 429

    # Database: a SQLite file in data_dir by default, or postgresql://...
    database_url: str | None = None
    # PostgreSQL connections kept open per process: the requests it serves at once (README)
    database_pool_size: int = Field(20, ge=1)
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
    # Check storage against the file rows at every start (services/storage.py); a large
    # installation may prefer `wschats storage check --repair` on a schedule instead
    storage_sweep_on_start: bool = True

    # Previews
    preview_workers: int = 2
    preview_max_pixels: int = 50_000_000
    preview_timeout_seconds: float = 60.0
    preview_memory_cache_mb: int = Field(64, ge=0)  # small previews also kept in memory
    # Room and user pictures are stored re-encoded, at most this many pixels on the long side
    picture_max_side_px: int = Field(1024, ge=16, le=8192)

    # Events: in-process by default, or amqp://...
    events_url: str | None = None
    events_queue_size: int = 1000
    # Event sockets: caps (a socket beyond is refused), browser origins allowed besides the
    # service's own (comma-separated, or "*"), and how often open sockets' sessions are checked
    events_max_sockets_per_user: int = Field(16, ge=1)
    events_max_sockets: int = Field(2000, ge=1)
    events_allowed_origins: str = ""
    session_check_seconds: float = Field(1.0, gt=0)
    expired_token_sweep_seconds: float = Field(3600.0, gt=0)

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

    # Capabilities (behaviour.md#capabilities)
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

    @model_validator(mode="after")
    def _needs_its_url(self) -> Settings:
        """A dependency that is switched on needs to know where it is."""
        if self.xmpp != "none" and not self.xmpp_url:
            raise ValueError(f"WSC_XMPP_URL is required when WSC_XMPP={self.xmpp}")
        if self.identity == "usermanagement" and not self.identity_url:
            raise ValueError("WSC_IDENTITY_URL is required when WSC_IDENTITY=usermanagement")
        return self

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
