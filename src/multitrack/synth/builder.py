"""Building blocks for `multitrack synth`: a timeline under construction, media, geometry.

Every value is in Premiere's own units (../shared/docs/xmeml.md §6), as `timeline.model` keeps
them: scale in percent of the media's native pixel size, center offsets normalised by
the *media's* pixel width and height, crop in percent of the source frame. The helpers
here take on-screen pixel offsets and convert, rounding offsets to whole pixels as
Premiere's own files have them (../shared/docs/xmeml.md §6: h × media width is a whole number).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from urllib.parse import quote

import numpy as np

from multitrack.synth.profiles import EditorProfile
from multitrack.timeline.model import (
    Asset,
    Clip,
    Crop,
    Keyframe,
    Motion,
    Param,
    Rate,
    Timeline,
    Track,
    Transition,
)

STILL_SECONDS = 12 * 3600  # Premiere gives stills a 12-hour duration (../shared/docs/xmeml.md §4) ...
STILL_IN_SECONDS = 3600  # ... and in-points about one hour into it
MIN_SHOT_SECONDS = 0.5
DISSOLVE_SECONDS = (0.3, 1.0)


@dataclass
class DraftTimeline:
    """A timeline being cut: its settings, the editor and the random stream that cuts it."""

    name: str
    project: str  # folder name used in media paths
    rate: Rate
    width_px: int
    height_px: int
    duration_frames: int
    profile: EditorProfile
    rng: np.random.Generator
    timecode_frame: int = 0
    # Where this timeline's rendered sound goes (None: media are referenced, nothing is
    # rendered), the same folder relative to the xmeml's own (what its pathurls say), and
    # the random stream sound is drawn from (kept apart, so rendering never moves the cut).
    media_dir: Path | None = None
    media_url: str = ""
    sound_rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    # The stream an editor's choices on a podcast's sound are drawn from, apart from the
    # world's: another stream re-cuts the same session (the oracle, synth.corpus.recut).
    cut_rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(1))
    assets: dict[str, Asset] = field(default_factory=dict)
    video_tracks: list[Track] = field(default_factory=list)
    audio_tracks: list[Track] = field(default_factory=list)

    def frames(self, seconds: float) -> int:
        """Seconds to whole frames at the sequence rate."""
        return max(1, int(round(seconds * self.rate.fps)))

    def shot_frames(self, mean_seconds: float) -> int:
        """One shot length from the editor's gamma pacing with this mean."""
        shape = self.profile.shot_shape
        seconds = self.rng.gamma(shape, mean_seconds / shape)
        return self.frames(max(MIN_SHOT_SECONDS, seconds))

    def video_track(self, index: int) -> Track:
        """Video track `index` (0 = V1), adding empty tracks below it as needed."""
        while len(self.video_tracks) <= index:
            self.video_tracks.append(Track(name=f"V{len(self.video_tracks) + 1}"))
        return self.video_tracks[index]

    def add_asset(
        self,
        name: str,
        folder: str,
        size_px: tuple[int, int] | None,
        *,
        duration_frames: int,
        media_rate: Rate | None = None,
        has_audio: bool = True,
        timecode_frame: int = 0,
    ) -> Asset:
        """A media file, numbered file-1, file-2, … in the order the edit first needs it."""
        media_rate = media_rate or self.rate
        asset = Asset(
            id=f"file-{len(self.assets) + 1}",
            name=name,
            pathurl=f"file://localhost/Volumes/Media/{quote(self.project)}/{folder}/{quote(name)}",
            width_px=size_px[0] if size_px else None,
            height_px=size_px[1] if size_px else None,
            rate=media_rate,
            duration_frames=duration_frames,
            timecode_frame=timecode_frame,
            timecode_string=timecode_string(timecode_frame, media_rate.timebase),
            has_audio=has_audio,
        )
        self.assets[asset.id] = asset
        return asset

    def add_camera(self, name: str, size_px: tuple[int, int], sync_offset_frames: int) -> Asset:
        """A recording long enough for the whole timeline at a fixed sync offset."""
        tail_frames = self.frames(float(self.rng.uniform(2.0, 20.0)))
        return self.add_asset(
            name,
            "Footage",
            size_px,
            duration_frames=sync_offset_frames + self.duration_frames + tail_frames,
            timecode_frame=self.time_of_day_frame(),
        )

    def add_media_file(
        self, name: str, *, duration_frames: int, size_px: tuple[int, int] | None = None, timecode_frame: int = 0
    ) -> Asset:
        """A media file this timeline renders into `media_dir`, its pathurl relative to the
        xmeml (synth's corpus moves as a whole; ingest resolves the path beside the file)."""
        asset = self.add_asset(
            name, "", size_px, duration_frames=duration_frames, timecode_frame=timecode_frame, has_audio=True
        )
        asset = dataclasses.replace(asset, pathurl=f"{self.media_url}/{quote(name)}")
        self.assets[asset.id] = asset
        return asset

    def media_path(self, name: str) -> Path:
        """Where `add_media_file(name)`'s file is rendered (the folder made on first use)."""
        assert self.media_dir is not None, "this draft renders no media"
        self.media_dir.mkdir(parents=True, exist_ok=True)
        return self.media_dir / name

    def add_still(self, name: str, size_px: tuple[int, int]) -> Asset:
        return self.add_asset(name, "Stills", size_px, has_audio=False, duration_frames=self.frames(STILL_SECONDS))

    def time_of_day_frame(self) -> int:
        """A camera's start timecode: some time during a working day, in frames."""
        seconds = int(self.rng.integers(9 * 3600, 18 * 3600))
        return seconds * self.rate.timebase + int(self.rng.integers(self.rate.timebase))

    def add_audio(self, clips: list[Clip]) -> None:
        """The main sound on A1."""
        self.audio_tracks.append(Track(clips=clips, name="A1"))

    def finish(self) -> Timeline:
        for track in self.video_tracks:
            track.clips.sort(key=lambda c: c.start_frame)
            track.transitions.sort(key=lambda t: t.start_frame)
        # Only media the edit uses is in an export: an angle never cut to is left out.
        used = {c.asset_id for t in self.video_tracks + self.audio_tracks for c in t.clips}
        assets = {asset_id: asset for asset_id, asset in self.assets.items() if asset_id in used}
        return Timeline(
            name=self.name,
            rate=self.rate,
            width_px=self.width_px,
            height_px=self.height_px,
            duration_frames=self.duration_frames,
            video_tracks=self.video_tracks,
            audio_tracks=self.audio_tracks,
            assets=assets,
            timecode_frame=self.timecode_frame,
        )


def timecode_string(frame: int, timebase: int) -> str:
    """Non-drop-frame HH:MM:SS:FF for a frame count at an integer timebase."""
    seconds, frames = divmod(frame, timebase)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}:{frames:02d}"


def fill_scale_pct(media_px: tuple[int, int], seq_px: tuple[int, int]) -> float:
    """Premiere scale % that makes the media cover the whole sequence frame."""
    return 100.0 * max(seq_px[0] / media_px[0], seq_px[1] / media_px[1])


def fit_scale_pct(media_px: tuple[int, int], seq_px: tuple[int, int]) -> float:
    """Premiere scale % that fits the whole media inside the sequence frame."""
    return 100.0 * min(seq_px[0] / media_px[0], seq_px[1] / media_px[1])


def centre_value(offset_px: float, media_len_px: int) -> float:
    """An on-screen offset in pixels as Premiere's center value: whole pixels over the
    media's own size (../shared/docs/xmeml.md §6)."""
    return round(offset_px) / media_len_px


def motion_for(asset: Asset, scale_pct: float, dx_px: float = 0.0, dy_px: float = 0.0) -> Motion | None:
    """Static Basic Motion; None when it is the default, which Premiere leaves out
    (../shared/docs/xmeml.md §6: the filter is written only when it differs from the default)."""
    assert asset.width_px is not None and asset.height_px is not None  # every video asset synth makes has a size
    motion = Motion(
        scale=Param(round(scale_pct, 4)),
        center_x=Param(centre_value(dx_px, asset.width_px)),
        center_y=Param(centre_value(dy_px, asset.height_px)),
    )
    return None if motion.is_default else motion


def keyed(whens: Sequence[float], values: Sequence[float], digits: int = 6) -> Param:
    """A keyframed parameter; its static value is the first key's (../shared/docs/xmeml.md §7)."""
    keys = tuple(Keyframe(float(w), round(float(v), digits)) for w, v in zip(whens, values, strict=True))
    return Param(keys[0].value, keys)


def crop_for(left: float = 0.0, right: float = 0.0, top: float = 0.0, bottom: float = 0.0) -> Crop | None:
    crop = Crop(Param(round(left, 3)), Param(round(right, 3)), Param(round(top, 3)), Param(round(bottom, 3)))
    return None if crop.is_default else crop


def sync_clip(asset: Asset, start_frame: int, end_frame: int, offset_frames: int, **kwargs) -> Clip:
    """A clip whose source frame is always timeline frame + offset: angles never drift."""
    return Clip(
        asset.id,
        start_frame,
        end_frame,
        start_frame + offset_frames,
        end_frame + offset_frames,
        name=asset.name,
        **kwargs,
    )


def partition(
    draft: DraftTimeline, mean_seconds: float, start_frame: int = 0, end_frame: int | None = None
) -> list[tuple[int, int]]:
    """Cut [start, end) into consecutive shots drawn from the editor's pacing; a last
    sliver shorter than the minimum shot joins the shot before it."""
    end_frame = draft.duration_frames if end_frame is None else end_frame
    min_frames = draft.frames(MIN_SHOT_SECONDS)
    bounds = [start_frame]
    while bounds[-1] < end_frame:
        bounds.append(min(end_frame, bounds[-1] + draft.shot_frames(mean_seconds)))
    if len(bounds) > 2 and bounds[-1] - bounds[-2] < min_frames:
        del bounds[-2]
    return list(pairwise(bounds))


def add_dissolves(draft: DraftTimeline, track: Track) -> None:
    """Turn some butt cuts between adjacent clips into centred cross dissolves.

    Both clips are on the track during a transition (../shared/docs/xmeml.md §4): the outgoing clip
    runs on by half the dissolve and the incoming one starts half of it early, each
    using source handles, so neither leaves sync.
    """
    clips = sorted(track.clips, key=lambda c: c.start_frame)
    for i in range(len(clips) - 1):
        before, after = clips[i], clips[i + 1]
        if before.end_frame != after.start_frame or draft.rng.random() >= draft.profile.transition_rate:
            continue
        half = draft.frames(float(draft.rng.uniform(*DISSOLVE_SECONDS))) // 2
        half = min(half, before.length_frames // 3, after.length_frames // 3, after.in_frame)
        if half < 1 or not _has_tail(draft, before, half):
            continue
        cut = after.start_frame
        clips[i] = _extend(before, end=half)
        clips[i + 1] = _extend(after, start=half)
        track.transitions.append(Transition(cut - half, cut + half, "center"))
    track.clips[:] = clips


def add_fades(draft: DraftTimeline, track: Track) -> None:
    """Sometimes a fade up from black at the start of the sequence and down at its end
    (alignment start-black / end-black, ../shared/docs/xmeml.md §4)."""
    fade = draft.frames(float(draft.rng.uniform(0.5, 1.5)))
    if not track.clips:
        return
    first = min(track.clips, key=lambda c: c.start_frame)
    last = max(track.clips, key=lambda c: c.end_frame)
    if draft.rng.random() < draft.profile.transition_rate and first.start_frame == 0 and first.length_frames > 3 * fade:
        track.transitions.append(Transition(0, fade, "start-black"))
    if (
        draft.rng.random() < draft.profile.transition_rate
        and last.end_frame == draft.duration_frames
        and last.length_frames > 3 * fade
    ):
        track.transitions.append(Transition(last.end_frame - fade, last.end_frame, "end-black"))


def _has_tail(draft: DraftTimeline, clip: Clip, frames: int) -> bool:
    duration = draft.assets[clip.asset_id].duration_frames
    return duration is None or clip.out_frame + frames <= duration


def _extend(clip: Clip, start: int = 0, end: int = 0) -> Clip:
    """The clip lengthened at either edge, source in/out moved with it."""
    return dataclasses.replace(
        clip,
        start_frame=clip.start_frame - start,
        in_frame=clip.in_frame - start,
        end_frame=clip.end_frame + end,
        out_frame=clip.out_frame + end,
    )
