"""How updates come in and answers go out, each exactly once: the durable queue (``intake``), the
send that answers an update (``sending``, recorded by ``exactly_once``), Telegram's flood limits
(``pacing``) and a group's merged answers (``outbox``). Handlers call into it; it never calls them:
updates reach the handlers through python-telegram-bot's dispatch."""
