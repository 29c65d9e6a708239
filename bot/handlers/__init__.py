"""One small async function per kind of update, grouped by what the user is doing; wired in ``app.py``.
Handlers call down into ``delivery`` to send; nothing below calls back up."""
