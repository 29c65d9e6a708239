"""The Mirror Mirror Telegram bot (python-telegram-bot v22) on top of ``classifier``.

A photo goes: handlers.play -> Scorer (off the event loop) -> classifier.Classifier.predict.
"""
