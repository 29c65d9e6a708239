"""The playground: ``python -m bot --playground`` (``server.py``), its chat page (``playground.html``), and
the local stand-in for the Telegram Bot API that it and the end-to-end tests run the bot against
(``fakeapi.py``, with Telegram's rules in ``telegram.py``)."""
