"""xmeml builders for audio tracks (docs/xmeml-audio.md), on top of xmemlgen: what Premiere writes
for Audio Levels, Gain, `sourcetrack` and an audio track's type attributes."""

from __future__ import annotations

from xmemlgen import filter_, param

GAIN_ID = "{61756678, 4761696e, 4b657947}"


def audio_levels(level, keys=()) -> str:
    """The Audio Levels filter: `level` linear (1 = 0 dB), keys (when, level) on the source axis."""
    return filter_(
        "audiolevels",
        param("level", level, keys, name="Level", valuemin=0, valuemax=3.98109),
        name="Audio Levels",
        category="audiolevels",
        type="audiolevels",
        mediatype="audio",
    )


def gain(db) -> str:
    """Premiere's Gain filter, `Gain(dB)`."""
    return filter_(GAIN_ID, param("Gain(dB)", db, valuemin=-96, valuemax=96), name="Gain", mediatype="audio")


def sourcetrack(index) -> str:
    """The media channel an audio clipitem plays, 1-based."""
    return f"<sourcetrack><mediatype>audio</mediatype><trackindex>{index}</trackindex></sourcetrack>"


def audio_track(*items: str, kind=None, exploded=None, count=None, enabled="TRUE") -> str:
    """An audio `<track>` with Premiere's premiereTrackType / exploded-index attributes when given."""
    attributes = ""
    if exploded is not None:
        attributes += f' currentExplodedTrackIndex="{exploded}"'
    if count is not None:
        attributes += f' totalExplodedTrackCount="{count}"'
    if kind is not None:
        attributes += f' premiereTrackType="{kind}"'
    return f"<track{attributes}>{''.join(items)}<enabled>{enabled}</enabled></track>"
