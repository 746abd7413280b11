"""Typed timeline model: what an xmeml sequence says, in Premiere's own units.

Time is integer frames at the *sequence* rate (../shared/docs/xmeml.md §2: every clipitem
start/end/in/out is counted at the sequence rate, whatever rate the file declares).
Motion and crop values are kept exactly as Premiere writes them (scale in percent of
the media's native size, center normalised by the media's pixel size, crop in percent
of the source frame); the frame table's conversion lives in `multitrack.features`.
"""

from __future__ import annotations

import bisect
import enum
from dataclasses import dataclass, field
from fractions import Fraction

_NTSC = Fraction(1000, 1001)  # an ntsc rate is timebase × 1000/1001 (../shared/docs/xmeml.md §2)


@dataclass(frozen=True)
class Rate:
    """An xmeml `<rate>`: integer timebase, ntsc meaning timebase × 1000/1001."""

    timebase: int
    ntsc: bool = False

    @property
    def fps_exact(self) -> Fraction:
        """Frames per second, exactly (24/TRUE is 24000/1001); for anything that must not drift."""
        return self.timebase * _NTSC if self.ntsc else Fraction(self.timebase)

    @property
    def fps(self) -> float:
        """`fps_exact` as the nearest float: for display, and for arithmetic that may round."""
        return float(self.fps_exact)

    def __str__(self) -> str:
        return f"{self.fps:.3f}".rstrip("0").rstrip(".") + " fps"


@dataclass(frozen=True)
class Keyframe:
    """One key: `when` is a frame on the clip's *source* axis (../shared/docs/xmeml.md §7)."""

    when: float
    value: float


@dataclass(frozen=True)
class Param:
    """A scalar effect parameter, static or keyframed.

    With keyframes the static value is unreliable (../shared/docs/xmeml.md §7) and `at` ignores
    it: keys are interpolated linearly and the first/last value is held outside them.
    """

    value: float
    keyframes: tuple[Keyframe, ...] = ()

    @property
    def is_keyframed(self) -> bool:
        return len(self.keyframes) > 0

    def at(self, source_frame: float) -> float:
        """Value at one source frame."""
        keys = self.keyframes
        if not keys:
            return self.value
        whens = [k.when for k in keys]
        i = bisect.bisect_right(whens, source_frame)
        if i == 0:
            return keys[0].value
        if i == len(keys):
            return keys[-1].value
        k0, k1 = keys[i - 1], keys[i]
        if k1.when == k0.when:
            return k1.value
        u = (source_frame - k0.when) / (k1.when - k0.when)
        return k0.value + u * (k1.value - k0.value)


def static(value: float) -> Param:
    return Param(float(value))


@dataclass(frozen=True)
class Motion:
    """Premiere's Basic Motion (`effectid basic`), in Premiere's units.

    scale: percent, 100 = the media at its native pixel size.
    center_x/center_y: offset from the frame centre, normalised by the *media's*
    pixel width/height (../shared/docs/xmeml.md §6); positive y moves down.
    rotation: degrees.
    """

    scale: Param = Param(100.0)
    center_x: Param = Param(0.0)
    center_y: Param = Param(0.0)
    rotation: Param = Param(0.0)

    @property
    def is_default(self) -> bool:
        return self == Motion()


@dataclass(frozen=True)
class Crop:
    """Premiere's Crop (`effectid crop`): percent 0..100 of the source cut from each edge."""

    left: Param = Param(0.0)
    right: Param = Param(0.0)
    top: Param = Param(0.0)
    bottom: Param = Param(0.0)

    @property
    def is_default(self) -> bool:
        return self == Crop()


@dataclass(frozen=True)
class AudioGain:
    """What an audio clip's filters do to its level, in Premiere's units (docs/xmeml-audio.md).

    level: the Audio Levels filter's `level`, a *linear* gain (1 = 0 dB, Premiere's range
    0..3.98109, i.e. -inf..+12 dB), keyframed on the clip's source axis like Basic Motion.
    gain_db: the separate Gain filter's `Gain(dB)`, in dB.
    The frame table's `aNN_gain_db` is 20·log10(level) + gain_db (features/schema.py).
    """

    level: Param = Param(1.0)
    gain_db: Param = Param(0.0)

    @property
    def is_default(self) -> bool:
        return self == AudioGain()


class AssetKind(enum.StrEnum):
    FILE = "file"
    SEQUENCE = "sequence"  # a nested sequence used as a clip
    GENERATOR = "generator"  # colour matte, bars, ... (generatoritem)


@dataclass(frozen=True)
class Asset:
    """A piece of media a clip shows. `id` is unique within one document."""

    id: str
    name: str
    kind: AssetKind = AssetKind.FILE
    pathurl: str | None = None
    width_px: int | None = None  # media pixel size; None when the file does not say
    height_px: int | None = None
    rate: Rate | None = None
    duration_frames: int | None = None
    timecode_frame: int | None = None  # source timecode of the media's first frame
    timecode_string: str | None = None
    has_audio: bool = False
    # kind SEQUENCE: the nested sequence read as a Timeline (../shared/docs/xmeml.md §5); left out of
    # equality, hashing and repr so an Asset stays a small value
    sequence: Timeline | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Clip:
    """A clipitem (or generatoritem) on a track.

    start_frame/end_frame: timeline position, end exclusive, with -1 edges already
    resolved against the neighbouring transition (../shared/docs/xmeml.md §4).
    in_frame/out_frame: source position, counted from the media's first frame.
    motion/crop None means the filter is absent, i.e. the defaults.
    speed: percent (time remap); 100 = normal.
    audio/source_channel: audio clips only: the level filters (None = unity gain) and
    the media channel the clip plays (`sourcetrack/trackindex`, 1-based; 1 where not written).
    """

    asset_id: str
    start_frame: int
    end_frame: int
    in_frame: int
    out_frame: int
    name: str = ""
    enabled: bool = True
    motion: Motion | None = None
    crop: Crop | None = None
    speed: float = 100.0
    reverse: bool = False
    audio: AudioGain | None = None
    source_channel: int = 1

    @property
    def length_frames(self) -> int:
        return self.end_frame - self.start_frame

    def source_frame(self, timeline_frame: float) -> float:
        """Source-axis frame shown at a timeline frame (keyframe `when` axis)."""
        return self.in_frame + (timeline_frame - self.start_frame) * (self.speed / 100.0)


@dataclass(frozen=True)
class Transition:
    """A transitionitem: both neighbouring clips are on the track during it."""

    start_frame: int
    end_frame: int
    alignment: str = "center"
    name: str = "Cross Dissolve"
    effect_id: str = "Cross Dissolve"


@dataclass(frozen=True)
class AudioTrackType:
    """How Premiere describes an audio track (docs/xmeml-audio.md): `premiereTrackType`
    (Mono, Stereo, SixteenChannel, ...) and, for a track exploded into one xmeml track per
    channel, which one this is (`currentExplodedTrackIndex`, 0-based) of how many
    (`totalExplodedTrackCount`). Every field None where the file does not say (FCP7, Resolve)."""

    premiere_type: str | None = None
    exploded_index: int | None = None
    exploded_count: int | None = None


@dataclass
class Track:
    """A video or audio track; V1 (index 0) is the bottom layer. `audio_type`: audio tracks only."""

    clips: list[Clip] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    enabled: bool = True
    name: str = ""
    audio_type: AudioTrackType | None = None


@dataclass
class Timeline:
    """One sequence: its rate, frame size, tracks and the assets its clips use."""

    name: str
    rate: Rate
    width_px: int
    height_px: int
    duration_frames: int
    video_tracks: list[Track] = field(default_factory=list)
    audio_tracks: list[Track] = field(default_factory=list)
    assets: dict[str, Asset] = field(default_factory=dict)
    timecode_frame: int = 0  # sequence start timecode, in frames
    warnings: list[str] = field(default_factory=list)

    @property
    def end_frame(self) -> int:
        """The larger of the declared duration and the end of the last video clip."""
        ends = [c.end_frame for t in self.video_tracks for c in t.clips]
        return max([self.duration_frames, *ends])
