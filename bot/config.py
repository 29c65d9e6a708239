"""Configuration, read once from the environment at start."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path

# the update types the handlers answer (bot/app.py add_handlers), asked of Telegram by the webhook and
# getUpdates alike; an edit of an answered message would be answered again, a channel post reaches no handler
ALLOWED_UPDATES = ("message", "callback_query", "inline_query")
MIN_SECRET = 32
DERIVE = "derive"  # WEBHOOK_SECRET=derive: the secret is made from the token, the same on every replica
SECRET_CHARS = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what Telegram takes as secret_token


class ConfigError(ValueError):
    pass


def with_files(env) -> dict[str, str]:
    """``NAME_FILE=/run/secrets/x`` for any setting: its value read from that file (Docker's and compose's
    secrets), so a token or a password need not sit in the environment where any child would see it."""
    out = dict(env)
    for name in SETTING_NAMES:
        path = env.get(name + "_FILE")
        if not path:
            continue
        if env.get(name):
            raise ConfigError(f"both {name} and {name}_FILE are set; keep one")
        try:
            out[name] = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE: cannot read {path}: {exc.strerror or exc}") from None
    return out


def derive_secret(token: str) -> str:
    """A webhook secret from the token: HMAC-SHA256, URL-safe base64 (43 characters Telegram allows)."""
    digest = hmac.new(token.encode(), b"mirror-mirror webhook secret", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


# every setting read from the environment: name, default, what it does. ``python -m bot --settings`` prints
# this table, the README holds it, and tests/test_deploy.py keeps both equal to what from_env reads.
# Any of them may instead be read from a file: NAME_FILE=/run/secrets/x.
SETTINGS = (
    ("TELEGRAM_BOT_TOKEN", "(required)", "the bot's token from @BotFather"),
    ("TELEGRAM_API_BASE_URL", "Telegram's", "another Bot API server (a local one; the playground's)"),
    ("TELEGRAM_FILE_BASE_URL", "Telegram's", "where that server serves files"),
    ("MODEL_DIR", "", "a fixed model folder to serve"),
    ("MODELS_ROOT", "`models/`", "the folder whose `DEFAULT` names the model served (and `/reload`ed)"),
    ("WEBHOOK_URL", "", "set: webhook mode, Telegram posts to `$WEBHOOK_URL/telegram`; unset: long polling"),
    ("WEBHOOK_SECRET", "", "32-256 of `A-Z a-z 0-9 _ -` (required with a webhook), or `derive` (from the token)"),
    ("PORT", "8080", "the webhook's port (it serves `POST /telegram` only)"),
    ("LISTEN", "0.0.0.0", "the webhook's address"),
    ("HEALTH_PORT", "9090", "`/healthz`, `/readyz`, `/metrics`, in both modes; 0: none"),
    ("HEALTH_LISTEN", "127.0.0.1", "their address (0.0.0.0 only on a network Prometheus alone shares)"),
    ("STATE_DIR", "`state/`", "where `mirror.sqlite3` keeps the queue and the game (without Redis)"),
    ("RATE_LIMIT", "6", "photos per user per window (an album's photos count each)"),
    ("RATE_WINDOW_SECONDS", "60", "the rate limits' window"),
    ("GROUP_RATE_LIMIT", "30", "photos per group per window, whoever sends them"),
    ("INLINE_RATE_LIMIT", "30", "inline queries per user per window"),
    ("NOTE_INTERVAL_SECONDS", "10", 'at most one hint or "slow down" per user this often'),
    ("MAX_PENDING", "16", "updates handled at once; the rest wait in the durable queue"),
    ("MAX_WAIT_MINUTES", "10", "a photo that waited longer is asked to be sent again"),
    ("GROUP_MESSAGES_PER_MINUTE", "20", "Telegram's allowance per group per `GROUP_PERIOD_SECONDS`"),
    ("GROUP_PERIOD_SECONDS", "60", "... over it, waiting answers leave merged"),
    ("ADMIN_IDS", "", "user ids (comma or space separated) who may `/reload`"),
    ("REDIS_URL", "", "state in Redis instead of SQLite, shared by replicas"),
    ("REPLICA_NAME", "`hostname:PORT`", "this replica's name in Redis: keep it across its restarts"),
    ("RECLAIM_SECONDS", "30", "a silent replica's updates are taken over after this long"),
)
SETTING_NAMES = tuple(name for name, _, _ in SETTINGS)


def settings_table() -> str:
    """The settings as a Markdown table (the README's)."""
    rows = [f"| `{name}` | {default} | {what} |" for name, default, what in SETTINGS]
    return "\n".join(["| setting | default | what it does |", "| --- | --- | --- |", *rows])


HEALTH_PORT = 9090  # the ops port a deployed bot opens unless HEALTH_PORT says otherwise (0: none)


@dataclass(frozen=True)
class Config:
    token: str
    api_base_url: str = "https://api.telegram.org/bot"
    file_base_url: str = "https://api.telegram.org/file/bot"
    model_dir: Path | None = None  # a fixed model folder; None: whatever models_root/DEFAULT names
    models_root: Path | None = None  # None: the project's models/
    webhook_url: str | None = None
    webhook_secret: str | None = None
    port: int = 8080  # the webhook's (POST /telegram only)
    listen: str = "0.0.0.0"
    health_port: int = 0  # /healthz, /readyz, /metrics; 0: none (from the environment: 9090 unless told)
    health_listen: str = "127.0.0.1"  # inside a container: 0.0.0.0, on a network only Prometheus shares
    state_dir: Path = Path("state")
    rate_limit: int = 6  # photos per user ...
    rate_window_s: float = 60.0  # ... per this many seconds
    group_rate_limit: int = 30  # photos per group chat per rate_window_s, whoever sends them
    inline_rate_limit: int = 30  # inline queries per user per rate_window_s
    note_interval_s: float = 10.0  # at most one hint or "slow down" per user this often; more get nothing
    # updates handled at once (download to answer); the rest wait in the store. 16 keep both cores busy
    # (64 were no faster, and held 90 MiB more: `python -m tools.loadtest --max-pending 64`)
    max_pending: int = 16
    max_wait_s: float = 600.0  # a photo that waited longer in the queue is asked to be sent again
    admins: frozenset[int] = field(default_factory=frozenset)
    group_messages: int = 20  # Telegram's allowance per group ...
    group_period_s: float = 60.0  # ... per this many seconds; answers over it are merged
    redis_url: str | None = None  # set: state lives in Redis, shared by every replica
    replica: str = "bot"  # this process's name among the replicas (its Redis consumer): keep it across restarts
    reclaim_s: float = 30.0  # a replica silent this long: the others take over the updates it held

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """A webhook without a long secret would take updates from anyone who finds its URL."""
        if not self.webhook_url:
            return
        secret = self.webhook_secret or ""
        if len(secret) < MIN_SECRET:
            raise ConfigError(
                f"WEBHOOK_URL needs WEBHOOK_SECRET of at least {MIN_SECRET} characters "
                f"(A-Z a-z 0-9 _ -), or WEBHOOK_SECRET={DERIVE} to derive one from the token"
            )
        if not SECRET_CHARS.fullmatch(secret):
            raise ConfigError("WEBHOOK_SECRET may hold only A-Z a-z 0-9 _ - and at most 256 characters")

    @classmethod
    def from_env(cls, env=None) -> Config:
        env = with_files(os.environ if env is None else env)
        token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
        if not token:
            raise ConfigError("TELEGRAM_BOT_TOKEN is not set; get a token from @BotFather (see README)")
        secret = env.get("WEBHOOK_SECRET", "").strip() or None
        if secret and secret.lower() == DERIVE:
            secret = derive_secret(token)
        try:
            return cls(
                token=token,
                api_base_url=env.get("TELEGRAM_API_BASE_URL", cls.api_base_url),
                file_base_url=env.get("TELEGRAM_FILE_BASE_URL", cls.file_base_url),
                model_dir=Path(env["MODEL_DIR"]) if env.get("MODEL_DIR") else None,
                models_root=Path(env["MODELS_ROOT"]) if env.get("MODELS_ROOT") else None,
                webhook_url=env.get("WEBHOOK_URL") or None,
                webhook_secret=secret,
                port=int(env.get("PORT", cls.port)),
                listen=env.get("LISTEN", cls.listen),
                health_port=int(env.get("HEALTH_PORT", HEALTH_PORT)),
                health_listen=env.get("HEALTH_LISTEN", cls.health_listen),
                state_dir=Path(env.get("STATE_DIR", cls.state_dir)),
                rate_limit=int(env.get("RATE_LIMIT", cls.rate_limit)),
                rate_window_s=float(env.get("RATE_WINDOW_SECONDS", cls.rate_window_s)),
                group_rate_limit=int(env.get("GROUP_RATE_LIMIT", cls.group_rate_limit)),
                inline_rate_limit=int(env.get("INLINE_RATE_LIMIT", cls.inline_rate_limit)),
                note_interval_s=float(env.get("NOTE_INTERVAL_SECONDS", cls.note_interval_s)),
                max_pending=int(env.get("MAX_PENDING", cls.max_pending)),
                max_wait_s=60 * float(env.get("MAX_WAIT_MINUTES", cls.max_wait_s / 60)),
                admins=frozenset(int(x) for x in env.get("ADMIN_IDS", "").replace(",", " ").split()),
                group_messages=int(env.get("GROUP_MESSAGES_PER_MINUTE", cls.group_messages)),
                group_period_s=float(env.get("GROUP_PERIOD_SECONDS", cls.group_period_s)),
                redis_url=env.get("REDIS_URL") or None,
                reclaim_s=float(env.get("RECLAIM_SECONDS", cls.reclaim_s)),
                replica=env.get("REPLICA_NAME") or f"{socket.gethostname()}:{env.get('PORT', cls.port)}",
            )
        except ConfigError:
            raise
        except ValueError as exc:
            raise ConfigError(f"bad setting: {exc}") from None

    def model_path(self) -> Path:
        """The folder to serve, resolved now: a new promotion changes it without a restart."""
        from classifier.card import default_model_dir

        return self.model_dir or default_model_dir(self.models_root)

    def __repr__(self) -> str:  # never print the token
        return f"Config(api_base_url={self.api_base_url!r}, webhook={bool(self.webhook_url)}, port={self.port})"
