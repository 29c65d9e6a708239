"""python -m bot: long polling, or a webhook server when WEBHOOK_URL is set."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path


def main(argv=None) -> int:
    from .config import SETTING_NAMES, settings_table

    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Mirror Mirror Telegram bot. Settings come from the environment (each also as NAME_FILE, "
        "read from that file): " + ", ".join(SETTING_NAMES) + "; --settings says what each does.",
    )
    parser.add_argument("--settings", action="store_true", help="print every setting, its default and its use")
    parser.add_argument(
        "--playground",
        action="store_true",
        help="try the bot without Telegram: a local chat page on 127.0.0.1, no token needed",
    )
    parser.add_argument("--port", type=int, default=8080, help="playground port (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.settings:
        print(settings_table())
        return 0
    if args.playground:
        return playground(args.port)
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


def playground(port: int) -> int:
    import logging
    import os

    from classifier import Classifier, ModelError

    from .config import Config
    from .playground.server import serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        where = Config(token="-", model_dir=Path(os.environ["MODEL_DIR"]) if os.environ.get("MODEL_DIR") else None)
        classifier = Classifier.load(where.model_path())
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(port, classifier))
    except OSError as exc:
        print(f"error: cannot serve on 127.0.0.1:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
