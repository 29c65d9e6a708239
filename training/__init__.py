"""Rebuilds the model: data, backbones, transfer learning, evaluation, export into ``models/``.

Entry point: ``python -m training --data DIR``. Imports no Telegram code.
"""
