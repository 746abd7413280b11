"""The text of `multitrack inspect`: what a timeline holds, in a few readable lines."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from multitrack.timeline.model import Asset, AssetKind, Clip, Param, Timeline, Track
from multitrack.timeline.xmeml.document import printable

DEFAULT_MAX_ASSETS = 20
_KIND_LABELS = {AssetKind.FILE: "file", AssetKind.SEQUENCE: "nested sequence", AssetKind.GENERATOR: "generator"}


def summarize(
    timeline: Timeline, max_assets: int = DEFAULT_MAX_ASSETS, audio_notes: Mapping[int, str] | None = None
) -> str:
    """A multi-line summary: rate, size, duration, tracks, assets, effects, keyframes, warnings.

    `audio_notes`: text added to audio track n's line (1-based), e.g. what `inspect` heard."""
    video_clips = [clip for track in timeline.video_tracks for clip in track.clips]
    lines = [
        f"timeline '{printable(timeline.name)}'",
        f"  rate         {timeline.rate} (timebase {timeline.rate.timebase}, "
        f"NTSC {'yes' if timeline.rate.ntsc else 'no'})",
        f"  frame size   {timeline.width_px}x{timeline.height_px}",
        f"  duration     {_duration_text(timeline)}",
        f"  video tracks {len(timeline.video_tracks)} (V1 is the bottom layer)",
        *_track_lines(timeline.video_tracks, "V"),
        f"  audio tracks {len(timeline.audio_tracks)}" + (" (a stereo pair is two)" if _has_pairs(timeline) else ""),
        *_track_lines(timeline.audio_tracks, "A", audio_notes or {}),
        f"  assets       {_asset_counts(timeline.assets.values())}",
        *_asset_lines(timeline.assets.values(), max_assets),
        f"  effects      {_effects_text(video_clips)}",
        f"  keyframes    {_keyframes_text(video_clips)}",
        f"  time remaps  {_remaps_text(video_clips)}",
        *_warning_lines(timeline.warnings),
    ]
    return "\n".join(lines)


def timecode(frame: int, timebase: int) -> str:
    """HH:MM:SS:FF counted at the integer timebase (non-drop-frame)."""
    seconds, frames = divmod(frame, timebase)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}:{frames:02d}"


def _duration_text(timeline: Timeline) -> str:
    frames = timeline.duration_frames
    text = f"{frames} frames = {timecode(frames, timeline.rate.timebase)} ({frames / timeline.rate.fps:.2f} s)"
    if timeline.end_frame > frames:
        text += f"; clips run on to frame {timeline.end_frame}"
    return text


def _has_pairs(timeline: Timeline) -> bool:
    return any(t.audio_type is not None and (t.audio_type.exploded_count or 1) > 1 for t in timeline.audio_tracks)


def _track_lines(tracks: list[Track], prefix: str, notes: Mapping[int, str] | None = None) -> list[str]:
    lines = []
    for number, track in enumerate(tracks, start=1):
        disabled = sum(not clip.enabled for clip in track.clips)
        name = f" '{printable(track.name)}'" if track.name else ""
        state = "" if track.enabled else " (track disabled)"
        note = (notes or {}).get(number)
        lines.append(
            f"    {prefix}{number}{name}{_audio_type_text(track)}{state}: {_plural(len(track.clips), 'clip')} "
            f"({len(track.clips) - disabled} enabled, {disabled} disabled), "
            f"{_plural(len(track.transitions), 'transition')}" + (f"; {note}" if note else "")
        )
    return lines


def _audio_type_text(track: Track) -> str:
    """` (Stereo, channel 1 of 2)`: Premiere's type of an audio track (docs/xmeml-audio.md)."""
    kind = track.audio_type
    if kind is None or kind.premiere_type is None:
        return ""
    if kind.exploded_index is not None and (kind.exploded_count or 1) > 1:
        return f" ({kind.premiere_type}, channel {kind.exploded_index + 1} of {kind.exploded_count})"
    return f" ({kind.premiere_type})"


def _asset_counts(assets) -> str:
    by_kind = Counter(asset.kind for asset in assets)
    parts = [_plural(by_kind[kind], label) for kind, label in _KIND_LABELS.items() if by_kind[kind]]
    return f"{sum(by_kind.values())}" + (f": {', '.join(parts)}" if parts else "")


def _asset_lines(assets, max_assets: int) -> list[str]:
    assets = list(assets)
    lines = [
        f"    {_KIND_LABELS[asset.kind]:<15} {_size_text(asset):<12} {printable(asset.name) or '(no name)'}"
        f" [{printable(asset.id)}]"
        for asset in assets[:max_assets]
    ]
    if len(assets) > max_assets:
        lines.append(f"    … and {len(assets) - max_assets} more")
    return lines


def _size_text(asset: Asset) -> str:
    if asset.width_px and asset.height_px:
        return f"{asset.width_px}x{asset.height_px}"
    return "size unknown" if asset.kind is not AssetKind.GENERATOR else "-"


def _effects_text(clips: list[Clip]) -> str:
    motion = sum(clip.motion is not None for clip in clips)
    crop = sum(clip.crop is not None for clip in clips)
    return f"Basic Motion on {_plural(motion, 'video clip')}, Crop on {_plural(crop, 'video clip')}"


def _keyframed_params(clip: Clip) -> list[Param]:
    params = list(vars(clip.motion).values()) if clip.motion else []
    params += list(vars(clip.crop).values()) if clip.crop else []
    return [param for param in params if param.is_keyframed]


def _keyframes_text(clips: list[Clip]) -> str:
    per_clip = [_keyframed_params(clip) for clip in clips]
    params = [param for params in per_clip for param in params]
    if not params:
        return "none"
    keys = sum(len(param.keyframes) for param in params)
    clips_keyed = sum(bool(params) for params in per_clip)
    return f"{_plural(len(params), 'keyframed parameter')} on {_plural(clips_keyed, 'clip')} ({_plural(keys, 'key')})"


def _remaps_text(clips: list[Clip]) -> str:
    retimed = [clip for clip in clips if clip.speed != 100.0 or clip.reverse]
    if not retimed:
        return "none"
    speeds = Counter(f"{clip.speed:g} %{' reversed' if clip.reverse else ''}" for clip in retimed)
    return f"{_plural(len(retimed), 'clip')} ({', '.join(f'{s} ×{n}' for s, n in speeds.most_common(5))})"


def _warning_lines(warnings: list[str]) -> list[str]:
    if not warnings:
        return ["  warnings     none"]
    return [f"  warnings     {len(warnings)}", *(f"    - {printable(w)}" for w in warnings)]


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
