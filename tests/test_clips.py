"""Clips from strangers: only the containers the bot reads, no file opened, every decode inside a budget."""

from __future__ import annotations

import pytest

from classifier import UnreadableImage, clips
from classifier.clips import FRAMES, _plan, container_format, sample_frames
from tests.conftest import face_clip, one_keyframe_clip


@pytest.mark.parametrize(
    "data",
    [
        b"ffconcat version 1.0\nfile 'models/examples/cat.jpg'\n",  # FFmpeg's probe would open the bot's file
        b"#EXTM3U\n#EXTINF:1,\nmodels/examples/cat.jpg\n",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
        b"",
    ],
)
def test_only_the_containers_the_bot_reads_are_opened(data):
    assert container_format(data) is None
    with pytest.raises(UnreadableImage, match="not a video"):
        sample_frames(data)


@pytest.mark.parametrize("fmt,name", [("mp4", "mov"), ("webm", "matroska"), ("gif", "gif")])
def test_real_clips_are_recognised_by_their_first_bytes(fmt, name):
    assert container_format(face_clip(fmt, frames=4)) == name


def test_a_clip_with_one_keyframe_is_decoded_once_not_once_per_frame():
    """Each sampled frame needs the run from the keyframe before it: planned as one pass, each packet once."""
    stamps, keys = list(range(600)), [i == 0 for i in range(600)]
    plan, targets = _plan(stamps, keys, FRAMES)
    assert len(targets) == FRAMES and max(plan) < 600 and len(plan) <= 600
    every_30 = [i % 30 == 0 for i in range(600)]
    plan, _ = _plan(stamps, every_30, FRAMES)
    assert len(plan) <= FRAMES * (30 + clips.REORDER)  # only the runs that lead to the sampled frames
    frames = sample_frames(one_keyframe_clip(600))
    assert len(frames) == FRAMES and len({f.tobytes() for f in frames}) == FRAMES


def test_a_clip_over_the_decode_budget_is_refused_before_decoding(monkeypatch):
    monkeypatch.setattr(clips, "DECODE_PIXELS", 100 * 64 * 64)
    with pytest.raises(UnreadableImage, match="too long or too heavy"):
        sample_frames(one_keyframe_clip(300))


def test_a_clip_of_too_many_frames_is_refused_while_indexing(monkeypatch):
    monkeypatch.setattr(clips, "MAX_PACKETS", 200)
    with pytest.raises(UnreadableImage, match="too many frames"):
        sample_frames(one_keyframe_clip(300, side=16))


def test_a_clip_that_overruns_its_deadline_is_refused():
    with pytest.raises(UnreadableImage, match="too long to read"):
        sample_frames(one_keyframe_clip(60), deadline_s=0)


def test_an_absurd_frame_rate_is_refused():
    with pytest.raises(UnreadableImage, match="frame rate"):
        sample_frames(one_keyframe_clip(900, side=16, fps=1000))
