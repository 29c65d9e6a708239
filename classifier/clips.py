"""Short clips (round video notes, videos, GIF animations): a few frames read in memory, each
scored like a photo, one steadier answer for the clip.

Frames are decoded with PyAV (FFmpeg, bundled in its wheel) straight from the bytes: the clip is
never written to disk, and each sampled frame is reached by seeking to the keyframe before it,
so a long video costs a few short decodes, not the whole file.

The clip's answer: the subject most frames agree on (person, pet, neither); its share is the
median over those frames of the largest face's (or the pet's) probabilities. The answer's spread
is measured by resampling the frames; a single frame's spread is the spread across frames.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from .images import MAX_PIXELS, UnreadableImage
from .selfie import NONE, PERSON, Face, Pet, SelfieResult

FRAMES = 12
MAX_SECONDS = 600  # a 20 MB clip longer than this is a film, not a selfie
WORK_SIDE = 640  # 12 frames of a 1080p video stay ~8 MB; a face in a clip fills much of the frame


def sample_frames(data: bytes, n: int = FRAMES) -> list[Image.Image]:
    """Up to ``n`` RGB frames spread evenly over the clip. Raises ``UnreadableImage`` for anything
    that is not a readable video or animation."""
    import av

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video:
                raise UnreadableImage("there is no picture in it")
            stream = container.streams.video[0]
            if (stream.width or 0) * (stream.height or 0) > MAX_PIXELS:
                raise UnreadableImage(f"the video is too large ({stream.width}x{stream.height} pixels)")
            duration = _duration(container, stream)
            if duration and duration > MAX_SECONDS:
                raise UnreadableImage("the clip is too long; send a short video or a video message")
            frames = _by_seeking(container, stream, duration, n) if duration else []
            if not frames:  # no duration (some GIFs, raw streams), or seeking failed: read straight through
                container.seek(0)
                frames = _straight(container, stream, n)
    except UnreadableImage:
        raise
    except (av.FFmpegError, ValueError, IndexError, OSError) as exc:
        raise UnreadableImage("it is not a video or animation I can read") from exc
    if not frames:
        raise UnreadableImage("there are no frames in it")
    return frames


def _duration(container, stream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    return None


def _by_seeking(container, stream, duration: float, n: int) -> list[Image.Image]:
    frames = []
    for t in ((i + 0.5) * duration / n for i in range(n)):
        try:
            container.seek(int(t / stream.time_base), stream=stream, backward=True, any_frame=False)
        except Exception:  # noqa: BLE001 - some streams cannot seek: read straight through instead
            return []
        for frame in container.decode(stream):
            if frame.time is None or frame.time >= t - 0.02:
                frames.append(_shrink(frame.to_image()))
                break
    return frames


def _straight(container, stream, n: int, cap: int = 900) -> list[Image.Image]:
    """Every frame up to ``cap``, keeping ``n`` spread evenly (a reservoir of 2n, thinned as it fills)."""
    kept, step = [], 1
    for i, frame in enumerate(container.decode(stream)):
        if i >= cap:
            break
        if i % step == 0:
            kept.append(_shrink(frame.to_image()))
            if len(kept) >= 2 * n:
                kept, step = kept[::2], step * 2
    if len(kept) > n:
        idx = np.linspace(0, len(kept) - 1, n).round().astype(int)
        kept = [kept[i] for i in idx]
    return kept


def _shrink(image: Image.Image) -> Image.Image:
    image = image.convert("RGB")
    if max(image.size) > WORK_SIDE:
        image.thumbnail((WORK_SIDE, WORK_SIDE), Image.BILINEAR)
    return image


@dataclass
class ClipResult:
    """The clip's answer (``result``: the best frame, carrying the clip's answer), how many frames
    were looked at, and the spreads of P(label) across single frames and of the clip's answer."""

    result: SelfieResult
    frames: int
    agreeing: int  # frames whose subject is the clip's
    per_frame: list[float] = field(default_factory=list)  # each agreeing frame's share of the top label
    spread_frames: float = 0.0  # standard deviation across single frames
    spread_answer: float = 0.0  # standard deviation of the clip's answer (resampled frames)

    @property
    def subject(self) -> str:
        return self.result.subject

    def to_json(self) -> dict:
        return {
            **self.result.to_json(),
            "frames": self.frames,
            "agreeing_frames": self.agreeing,
            "spread_frames": round(self.spread_frames, 4),
            "spread_answer": round(self.spread_answer, 4),
        }


def combine(results: list[SelfieResult], classifier, resamples: int = 400) -> ClipResult:
    """One answer for a clip from its frames' results."""
    votes = Counter(r.subject for r in results)
    subject = max(votes, key=lambda s: (votes[s], s != NONE))  # a tie goes to a face or a pet
    agreeing = [r for r in results if r.subject == subject]
    if subject == NONE:
        return ClipResult(agreeing[0], len(results), len(agreeing))
    labels = classifier.card.labels
    probs = np.array([[r.headline.probabilities[label] for label in labels] for r in agreeing])
    answer = np.median(probs, axis=0)
    answer = answer / answer.sum()
    top = int(np.argmax(answer))
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(agreeing), (resamples, len(agreeing)))
    resampled = np.median(probs[:, top][picks], axis=1)
    best = int(np.argmin(np.abs(probs[:, top] - answer[top])))  # the frame that looks most like the answer
    prediction = classifier.explain(answer)
    frame = agreeing[best]
    if subject == PERSON:
        face = frame.largest
        result = SelfieResult(frame.image, PERSON, [Face(face.box, prediction, face.score, face.landmarks)], frame.pets)
    else:
        pet = frame.pet
        result = SelfieResult(frame.image, subject, pets=[Pet(pet.box, prediction, pet.breed)])
    return ClipResult(
        result,
        len(results),
        len(agreeing),
        [float(p) for p in probs[:, top]],
        float(probs[:, top].std()),
        float(resampled.std()),
    )
