"""The burst load test in its shortened CI form (the full 1,000 photos: python -m bot.loadtest)."""

from __future__ import annotations

from bot.loadtest import burst


async def test_burst_every_photo_answered_exactly_once(tiny_classifier):
    result = await burst(tiny_classifier, photos=200, users=40, max_pending=64)
    assert result["answered"] == 200 and result["lost"] == 0 and result["answered_twice"] == 0
    assert result["scored"] > 0 and result["scored"] + result["busy"] == 200
    # the loop may be slowed by this 2-core machine, but a blocking model call in it would show
    assert result["max_loop_stall_ms"] < 1000, result
    print(result)
