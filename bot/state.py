"""What every handler shares, one per process: the settings, the scorer, the store, the outbox, the
metrics, and the model reload every replica follows."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets

from telegram import Update

from classifier import Classifier

from .config import Config
from .delivery.outbox import Outbox
from .delivery.pacing import ChatPacer
from .metrics import Metrics
from .scoring import Scorer
from .store import Store
from .texts import text

log = logging.getLogger(__name__)
RELOAD = "reload:"  # + the replica that announced it


class BotState:
    """Everything the handlers share, kept in ``application.bot_data['state']``."""

    def __init__(self, config: Config, classifier: Classifier, store: Store, pacer: ChatPacer, metrics: Metrics):
        self.config = config
        self.outbox = Outbox(pacer, lambda language: text(language, "merged"))  # group answers over the limit
        self.scorer = Scorer(classifier, config.max_pending)
        self.store = store  # bot/store: where all state lives
        self.metrics = metrics
        self.metrics.serving(classifier.card.version)
        self._reload_lock = asyncio.Lock()
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.asynccontextmanager
    async def in_flight(self):
        self._busy += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._busy -= 1
            if not self._busy:
                self._idle.set()

    async def remember(self, value: str, user_id: int | None = None) -> str:
        """A short key for a "why?" button (callback data is capped at 64 bytes, file ids are not);
        with ``user_id`` the key is theirs, and /forgetme erases it."""
        key = secrets.token_urlsafe(9)
        await self.store.remember(key, value, user_id=user_id)
        return key

    async def allowance(self, update: Update, token: str | None = None) -> float:
        """Count one photo (``token``, by default the update's id) against its sender's rate limit and,
        in a group, the group's: 0 if allowed, else seconds to wait. A sender over their own limit
        spends nothing of the group's."""
        config, token = self.config, token or str(update.update_id)
        wait = await self.store.hit(update.effective_user.id, config.rate_limit, config.rate_window_s, token)
        chat = update.effective_chat
        if wait or chat is None or chat.id >= 0:
            return wait
        return await self.store.hit(chat.id, config.group_rate_limit, config.rate_window_s, token, kind="chat")

    async def reload_everywhere(self) -> tuple[bool, str]:
        """Reload here, then tell every other replica to do the same (each runs its own canary)."""
        outcome = await self.reload()
        await self.store.broadcast(RELOAD + self.config.replica)
        return outcome

    async def on_broadcast(self, message: str) -> None:
        if message.startswith(RELOAD) and message != RELOAD + self.config.replica:
            log.info("reload announced by replica %s", message[len(RELOAD) :])
            await self.reload()

    async def reload(self) -> tuple[bool, str]:
        """Load the configured model again (MODEL_DIR, or whatever models/DEFAULT names now),
        run the canary, and switch only if it passes. Returns (switched, what happened)."""
        from classifier.probes import canary

        old = self.scorer.card.version
        async with self._reload_lock:

            def load():
                candidate = Classifier.load(self.config.model_path()).warm_up()
                return candidate, canary(candidate)

            try:
                candidate, (passed, why) = await asyncio.get_running_loop().run_in_executor(None, load)
            except Exception as exc:  # a broken artifact must never take the bot down
                passed, why, candidate = False, f"{type(exc).__name__}: {exc}", None
            if not passed:
                log.warning("reload refused, still serving %s: %s", old, why)
                return False, f"kept {old}: {why}"
            self.scorer.swap(candidate)
            self.metrics.serving(candidate.card.version)
            log.info("now serving %s (was %s): %s", candidate.card.version, old, why)
            return True, f"now serving {candidate.card.version} (was {old}): {why}"

    async def drain(self, timeout: float = 30.0) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)
