"""Micro-batching: concurrent photos share model calls and get their own answers back."""

from __future__ import annotations

import asyncio

import numpy as np
from PIL import Image

from classifier import UnreadableImage
from classifier.batching import MicroBatcher, Overloaded
from tests.conftest import jpeg_bytes


def photos(n):
    rng = np.random.default_rng(2)
    return [jpeg_bytes(Image.fromarray(rng.integers(0, 255, (50, 70, 3), dtype=np.uint8))) for _ in range(n)]


async def test_concurrent_photos_share_batches_and_keep_their_answers(tiny_classifier):
    batcher = MicroBatcher(tiny_classifier, max_batch=8, max_wait_s=0.02)
    images = photos(24)
    results = await asyncio.gather(*(batcher.predict(im) for im in images))
    expected = tiny_classifier.predict_proba(images)
    got = np.array([[r.probabilities[l] for l in tiny_classifier.labels] for r in results])
    assert np.abs(got - expected).max() < 1e-5
    assert max(batcher.batches) > 1 and sum(batcher.batches) == 24 and max(batcher.batches) <= 8
    await batcher.aclose()


async def test_overload_is_refused_at_once_and_bad_images_fail_alone(tiny_classifier):
    batcher = MicroBatcher(tiny_classifier, max_pending=3)
    images = photos(6)
    results = await asyncio.gather(*(batcher.predict(im) for im in images), return_exceptions=True)
    assert sum(isinstance(r, Overloaded) for r in results) == 3
    assert sum(not isinstance(r, Exception) for r in results) == 3
    good, bad = await asyncio.gather(batcher.predict(images[0]), batcher.predict(b"junk"), return_exceptions=True)
    assert isinstance(bad, UnreadableImage) and not isinstance(good, Exception)
    assert batcher.pending == 0
    await batcher.aclose()


async def test_a_failing_model_call_reaches_every_waiter(tiny_model_dir):
    from classifier import Classifier

    broken = Classifier.load(tiny_model_dir)
    broken.runtime = lambda batch: (_ for _ in ()).throw(RuntimeError("kaput"))
    batcher = MicroBatcher(broken, max_wait_s=0.02)
    results = await asyncio.gather(*(batcher.predict(im) for im in photos(4)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    await batcher.aclose()


def test_on_each_decode_thread_runs_once_per_thread(tiny_classifier):
    import threading

    from classifier.batching import MicroBatcher

    batcher = MicroBatcher(tiny_classifier, decode_workers=3)
    seen = []
    batcher.on_each_decode_thread(lambda: seen.append(threading.get_ident()))
    asyncio.run(batcher.aclose())
    assert len(seen) == 3 and len(set(seen)) == 3


async def test_the_bot_keeps_few_photos_decoded_at_once_however_many_it_holds(tiny_classifier):
    """Sixteen photos in hand (downloads, answers) but only DECODED_AT_ONCE between decoding and their
    reading: the others wait as bytes, not as decoded photos waiting for the model."""
    from bot.scoring import DECODED_AT_ONCE, Scorer

    scorer = Scorer(tiny_classifier, max_pending=16)
    steps, decoded, most = scorer.selfies.steps, [0], [0]

    def counted(image):
        decoded[0] += 1
        most[0] = max(most[0], decoded[0])
        try:
            return (yield from steps(image))
        finally:
            decoded[0] -= 1

    scorer.selfies.steps = counted
    results = await asyncio.gather(*(scorer.score(im) for im in photos(16)))
    assert len(results) == 16 and all(r.subject in ("person", "pet", "none") for r in results)
    assert 1 < most[0] <= DECODED_AT_ONCE  # still side by side (shared model batches), never all sixteen
    assert decoded[0] == 0
