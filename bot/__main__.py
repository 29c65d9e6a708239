"""python -m bot: long polling, or a webhook server when WEBHOOK_URL is set."""

from __future__ import annotations

import argparse
import asyncio
import sys


def main(argv=None) -> int:
    argparse.ArgumentParser(
        prog="python -m bot",
        description="Mirror Mirror Telegram bot. Settings come from the environment: TELEGRAM_BOT_TOKEN (required), "
        "TELEGRAM_API_BASE_URL, TELEGRAM_FILE_BASE_URL, MODEL_DIR, MODELS_ROOT, WEBHOOK_URL, WEBHOOK_SECRET, PORT, STATE_DIR, "
        "RATE_LIMIT, RATE_WINDOW_SECONDS, MAX_PENDING, ADMIN_IDS (see README).",
    ).parse_args(argv)
    from .config import Config, ConfigError

    try:
        config = Config.from_env()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from classifier import Classifier, ModelError

    from .app import configure_logging, run

    configure_logging(config)
    try:
        classifier = Classifier.load(config.model_path())
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    asyncio.run(run(config, classifier))
    return 0


if __name__ == "__main__":
    sys.exit(main())
