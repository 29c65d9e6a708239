"""Short clips (round video notes, videos, GIF animations): a few frames read in memory, each
scored like a photo, one steadier answer for the clip.

Frames are decoded with PyAV (FFmpeg, bundled in its wheel) straight from the bytes: the clip is
never written to disk. Untrusted clips are held to limits before any frame is decoded: the container
is recognised from its first bytes and FFmpeg is told which demuxer to use (it never probes, so no
concat list or playlist can make it open a file or a URL), the packets are indexed without decoding,
and the frames to decode are planned from the keyframes: only the run from the keyframe before each
sampled frame up to it. A plan over the budget of decoded pixels, too many frames, an absurd frame
rate or a decode past the deadline is refused with the user's clear answer.

The clip's answer: the subject most frames agree on (person, pet, neither); its share is the
median over those frames of the largest face's (or the pet's) probabilities. The answer's spread
is measured by resampling the frames; a single frame's spread is the spread across frames.
"""

from __future__ import annotations

import io
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from .images import UnreadableImage, check_shape
from .selfie import NONE, PERSON, Face, Pet, SelfieResult

FRAMES = 12
MAX_SECONDS = 600  # a 20 MB clip longer than this is a film, not a selfie
WORK_SIDE = 640  # 12 frames of a 1080p video stay ~8 MB; a face in a clip fills much of the frame
MAX_PACKETS = 20_000  # 11 minutes at 30 fps; 20 MB of tiny P-frames would be ~500,000
MAX_FPS = 240
# pixels decoded for one clip, at most: ~2 s of one core (a 60-s 640x640 video note decoded whole is 0.7e9)
DECODE_PIXELS = 1_500_000_000
DEADLINE_S = 20.0
REORDER = 8  # frames a decoder may hold back (B-frames): decoded past a sampled frame to get it out
# demuxers by the container's first bytes; FFmpeg's own probing would also accept concat lists, playlists, ...
_SAFE_OPTIONS = {"protocol_whitelist": "pipe", "enable_drefs": "0"}


def container_format(data: bytes) -> str | None:
    """The FFmpeg demuxer for a clip (MP4/MOV/3GP, Matroska/WebM, GIF, AVI), or None."""
    if data[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return "mov"
    if data[:4] == b"\x1aE\xdf\xa3":
        return "matroska"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"AVI ":
        return "avi"
    return None


def sample_frames(data: bytes, n: int = FRAMES, deadline_s: float = DEADLINE_S) -> list[Image.Image]:
    """Up to ``n`` RGB frames spread evenly over the clip. Raises ``UnreadableImage`` for anything
    that is not a readable video or animation, or costs more to read than a clip may."""
    import av

    fmt = container_format(bytes(data[:12]))
    if fmt is None:
        raise UnreadableImage("it is not a video or animation I can read (try an MP4, WebM or GIF)")
    deadline = time.monotonic() + deadline_s
    try:
        with av.open(io.BytesIO(data), mode="r", format=fmt, options=_SAFE_OPTIONS) as container:
            stream = _video(container)
            stamps, keys = _index(container, stream)
        plan, targets = _plan(stamps, keys, n)
        if len(plan) * stream.width * stream.height > DECODE_PIXELS:
            raise UnreadableImage("the clip is too long or too heavy for me; send a shorter one")
        with av.open(io.BytesIO(data), mode="r", format=fmt, options=_SAFE_OPTIONS) as container:
            frames = _decode(container, _video(container), plan, targets, deadline)
    except UnreadableImage:
        raise
    except Exception as exc:  # noqa: BLE001 - any demuxer or decoder failure is the user's clear answer
        raise UnreadableImage("it is not a video or animation I can read") from exc
    if not frames:
        raise UnreadableImage("there are no frames in it")
    return frames


def _video(container):
    if not container.streams.video:
        raise UnreadableImage("there is no picture in it")
    stream = container.streams.video[0]
    check_shape(stream.width or 0, stream.height or 0, "video")
    return stream


def _index(container, stream) -> tuple[list[int], list[bool]]:
    """Each packet's presentation stamp and whether it is a keyframe, in decode order (no decoding)."""
    stamps, keys = [], []
    for packet in container.demux(stream):
        if packet.size == 0:
            continue
        if len(stamps) >= MAX_PACKETS:
            raise UnreadableImage("the clip has too many frames; send a shorter one")
        stamp = packet.pts if packet.pts is not None else packet.dts
        stamps.append(stamp if stamp is not None else len(stamps))
        keys.append(bool(packet.is_keyframe))
    if not stamps:
        raise UnreadableImage("there are no frames in it")
    if stream.time_base:
        seconds = float((max(stamps) - min(stamps)) * stream.time_base)
        if seconds > MAX_SECONDS:
            raise UnreadableImage("the clip is too long; send a short video or a video message")
        if len(stamps) > 2 * MAX_FPS and len(stamps) > MAX_FPS * seconds:
            raise UnreadableImage("the clip's frame rate is not one a camera makes")
    return stamps, keys


def _plan(stamps: list[int], keys: list[bool], n: int) -> tuple[set[int], list[int]]:
    """The packets to decode (decode-order indices) and the stamps of the ``n`` frames to keep: each
    frame's run from the keyframe before it (a clip without one marked: from the start)."""
    shown = sorted(range(len(stamps)), key=lambda i: stamps[i])  # presentation order
    picks = sorted({shown[int((i + 0.5) * len(shown) / n)] for i in range(min(n, len(shown)))})
    plan: set[int] = set()
    for pick in picks:
        key = next((j for j in range(pick, -1, -1) if keys[j]), 0)
        plan.update(range(key, min(len(stamps), pick + REORDER + 1)))
    return plan, sorted(stamps[i] for i in picks)


def _decode(container, stream, plan: set[int], targets: list[int], deadline: float) -> list[Image.Image]:
    """One pass over the packets, decoding only those planned; the first frame at or after each target."""
    frames, waiting = [], list(targets)

    def keep(decoded) -> None:
        for frame in decoded:
            if waiting and (frame.pts is None or frame.pts >= waiting[0]):
                while waiting and (frame.pts is None or frame.pts >= waiting[0]):
                    waiting.pop(0)
                frames.append(_shrink(frame.to_image()))

    index = 0
    for packet in container.demux(stream):
        if packet.size == 0:
            continue
        if index in plan:
            if time.monotonic() > deadline:
                raise UnreadableImage("the clip took too long to read; send a shorter one")
            try:
                keep(stream.decode(packet))
            except UnreadableImage:
                raise
            except Exception:  # noqa: BLE001 - one broken packet: the next keyframe starts again
                pass
        index += 1
        if not waiting:
            break
    if waiting:
        keep(stream.decode(None))  # what the decoder still holds back
    return frames


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
