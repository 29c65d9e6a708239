"""Logging with no secret in any line: the token and the webhook secret are redacted from whatever a
library writes, tracebacks included."""

from __future__ import annotations

import logging
from urllib.parse import quote

from .config import Config

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactSecrets(logging.Formatter):
    """No log line may carry the token or the webhook secret, whatever library wrote it: what the
    handler's own formatter writes (message, traceback, stack) is redacted as a whole, the token also
    URL-encoded (a request URL in an error)."""

    def __init__(self, token: str, webhook_secret: str | None = None, inner: logging.Formatter | None = None):
        super().__init__(LOG_FORMAT)
        self.inner = inner
        forms = {token: "<token>", quote(token, safe=""): "<token>", quote(token, safe="").lower(): "<token>"}
        if ":" in token:  # the part after the bot's id is the secret one, wherever it turns up alone
            forms[token.split(":", 1)[1]] = "<token>"
        if webhook_secret:
            forms[webhook_secret] = "<webhook-secret>"
        # longest first, so the whole token goes before its secret part
        self.forms = sorted(((k, v) for k, v in forms.items() if len(k) >= 8), key=lambda kv: -len(kv[0]))

    def redact(self, text: str) -> str:
        for secret, mark in self.forms:
            text = text.replace(secret, mark)
        return text

    def format(self, record: logging.LogRecord) -> str:
        text = self.inner.format(record) if self.inner else super().format(record)
        if record.exc_text:  # cached on the record for any other handler
            record.exc_text = self.redact(record.exc_text)
        return self.redact(text)

    def formatException(self, ei) -> str:
        return self.redact(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return self.redact(super().formatStack(stack_info))


def configure_logging(config: Config, level=logging.INFO) -> None:
    logging.basicConfig(level=level, format=LOG_FORMAT)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry URLs with the token
    for handler in logging.getLogger().handlers:
        inner = handler.formatter
        if isinstance(inner, RedactSecrets):
            inner = inner.inner
        handler.setFormatter(RedactSecrets(config.token, config.webhook_secret, inner))
