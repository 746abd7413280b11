"""`multitrack synth`: corpora of realistic timelines cut by a few editor profiles.

Each timeline is cut by one editor profile (`profiles`) in one of five styles
(`styles`): multicam podcast, picture-in-picture, split screen, talking head
with B-roll, vertical reframing. Timeline i is cut by editor i mod E from its own
random stream, seeded by (seed, i), so it does not depend on how many timelines are
asked for, and the same arguments always give the same bytes.

    synth_corpus(out_dir, timelines=110, seed=0, editors=5)
    # out_dir/editor01/tl0001_broll.xml, …, out_dir/synth.json
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from multitrack.errors import MultitrackError
from multitrack.synth.builder import DraftTimeline
from multitrack.synth.podcast import cut_podcast
from multitrack.synth.profiles import RATES, STYLES, EditorProfile, draw_profiles
from multitrack.synth.styles import (
    HD,
    UHD,
    cut_broll,
    cut_pip,
    cut_split_screen,
    cut_vertical,
)
from multitrack.timeline.model import Clip, Timeline, Track

MANIFEST_NAME = "synth.json"
STACK_SUFFIX = "_stack.xml"  # a podcast session's stack beside its edit: tlNNNN_multicam_stack.xml
MEDIA_FOLDER = "media"  # editorNN/media/tlNNNN/: the sound a timeline renders
_EDITOR_FOLDER = re.compile(r"editor\d+")
_TIMELINE_FILE = re.compile(r"tl\d+_(?:" + "|".join(STYLES) + r")(?:_stack)?\.xml")
VERTICAL = (1080, 1920)
_CUTTERS = {
    "pip": cut_pip,
    "split_screen": cut_split_screen,
    "broll": cut_broll,
    "vertical": cut_vertical,
}
_TITLES = {
    "multicam": "Podcast Ep",
    "pip": "Tutorial",
    "split_screen": "Interview",
    "broll": "Vlog",
    "vertical": "Short",
}


@dataclass(frozen=True)
class SynthTimeline:
    """One synthetic timeline and who cut it how; a podcast session (multicam) also has the
    stack the edit was cut from and the session's truth (conversation, cameras, mics, shots)."""

    timeline: Timeline
    editor: str
    style: str
    path: str  # relative to the corpus folder: editorNN/tlNNNN_style.xml
    stack: Timeline | None = None
    truth: dict | None = None

    @property
    def session(self) -> str:
        """tlNNNN: what the edit and its stack share."""
        return PurePosixPath(self.path).name.split("_")[0]

    @property
    def stack_path(self) -> str:
        return self.path.removesuffix(".xml") + STACK_SUFFIX


@dataclass(frozen=True)
class SynthReport:
    out_dir: Path
    manifest_path: Path
    profiles: list[EditorProfile]
    timelines: list[SynthTimeline]


def synth_corpus(
    out_dir: str | Path,
    timelines: int,
    seed: int,
    editors: int = 5,
    min_seconds: float = 60.0,
    max_seconds: float = 180.0,
    on_written: Callable[[SynthTimeline], object] | None = None,
) -> SynthReport:
    """Write `timelines` xmeml files, one folder per editor profile, and synth.json;
    `on_written` is called after each file (a progress bar)."""
    from multitrack.timeline.xmeml import write_xmeml

    _check_arguments(timelines, seed, editors, min_seconds, max_seconds)
    out_dir = Path(out_dir)
    _clear_previous_corpus(out_dir)
    profiles = draw_profiles(editors, seed)
    written = []
    for index in range(timelines):
        synth = synth_timeline(index, seed, profiles[index % editors], min_seconds, max_seconds, media_root=out_dir)
        path = out_dir / synth.path
        path.parent.mkdir(parents=True, exist_ok=True)
        write_xmeml(synth.timeline, path)
        if synth.stack is not None:
            write_xmeml(synth.stack, out_dir / synth.stack_path)
        written.append(synth)
        if on_written is not None:
            on_written(synth)
    arguments = {
        "timelines": timelines,
        "seed": seed,
        "editors": editors,
        "min_seconds": min_seconds,
        "max_seconds": max_seconds,
    }
    manifest_path = out_dir / MANIFEST_NAME
    manifest_path.write_text(json.dumps(_manifest(arguments, profiles, written), indent=1) + "\n")
    return SynthReport(out_dir, manifest_path, profiles, written)


def read_manifest(corpus_dir: str | Path) -> dict:
    """A synth corpus's synth.json, refused unless it lists podcast sessions and the arguments
    that rebuild them."""
    path = Path(corpus_dir) / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text())
        manifest["arguments"], manifest["sessions"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MultitrackError(f"{path}: not a synth corpus with podcast sessions ({exc})") from None
    return manifest


def recut(corpus_dir: str | Path, cut_seed: int) -> list[SynthTimeline]:
    """Every podcast session of a synth corpus re-cut by its own editor from stream `cut_seed`
    (>= 1): the same conversation, media and stack, another draw of the editor's choices. How
    well two such edits agree is the ceiling a model of that editor can reach (the oracle)."""
    if cut_seed < 1:
        raise ValueError(f"need a cut seed of at least 1 (0 is the editor's own edit), got {cut_seed}")
    manifest = read_manifest(corpus_dir)
    arguments, sessions = manifest["arguments"], manifest["sessions"]
    profiles = draw_profiles(arguments["editors"], arguments["seed"])
    recuts = []
    for session in sessions:
        index = int(session["session"].removeprefix("tl")) - 1
        profile = profiles[index % arguments["editors"]]
        recuts.append(
            synth_timeline(
                index,
                arguments["seed"],
                profile,
                arguments["min_seconds"],
                arguments["max_seconds"],
                cut_seed=cut_seed,
            )
        )
    return recuts


def synth_timeline(
    index: int,
    seed: int,
    profile: EditorProfile,
    min_seconds: float = 60.0,
    max_seconds: float = 180.0,
    style: str | None = None,
    media_root: Path | None = None,
    cut_seed: int = 0,
) -> SynthTimeline:
    """Timeline `index` of the corpus `seed`, cut by `profile` (in `style` if given,
    else in a style drawn from the profile's mix); its sound is rendered under
    `media_root`/editorNN/media/tlNNNN/ when a root is given, else only referenced. A podcast's
    editor decides from stream `cut_seed`: 0 is the editor's own edit, any other re-cuts the
    same session (the oracle)."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 1, index])))
    drawn_style = STYLES[_draw_index(rng, profile.style_weights)]
    style = style or drawn_style
    draft = _draft(index, style, profile, rng, min_seconds, max_seconds)
    draft.sound_rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 2, index])))
    draft.media_url = f"{MEDIA_FOLDER}/tl{index + 1:04d}"
    if media_root is not None:
        draft.media_dir = Path(media_root) / profile.name / draft.media_url
    draft.cut_rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 3, index, cut_seed])))
    podcast = cut_podcast(draft) if style == "multicam" else None
    if podcast is None:
        _CUTTERS[style](draft)
    _leave_disabled(draft)
    path = f"{profile.name}/tl{index + 1:04d}_{style}.xml"
    if podcast is None:
        return SynthTimeline(draft.finish(), profile.name, style, path)
    return SynthTimeline(draft.finish(), profile.name, style, path, podcast.stack, podcast.truth)


def _draft(
    index: int, style: str, profile: EditorProfile, rng: np.random.Generator, min_seconds: float, max_seconds: float
) -> DraftTimeline:
    """Sequence settings: the editor's usual rate (now and then another), 1080p or UHD
    (9:16 for vertical), a length between the bounds."""
    rate = profile.rate if rng.random() < 0.8 else RATES[int(rng.integers(len(RATES)))]
    if style == "vertical":
        width_px, height_px = VERTICAL
    else:
        width_px, height_px = UHD if rng.random() < profile.uhd_share else HD
    seconds = float(rng.uniform(min_seconds, max_seconds))
    title = f"{_TITLES[style]} {index + 1:03d}"
    return DraftTimeline(
        name=title,
        project=title.replace(" ", "_"),
        rate=rate,
        width_px=width_px,
        height_px=height_px,
        duration_frames=max(1, round(seconds * rate.fps)),
        profile=profile,
        rng=rng,
        timecode_frame=profile.timecode_hour * 3600 * rate.timebase,
    )


def _draw_index(rng: np.random.Generator, weights: tuple[float, ...]) -> int:
    cumulative = np.cumsum(weights)
    drawn = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
    return min(drawn, len(weights) - 1)


def _leave_disabled(draft: DraftTimeline) -> None:
    """What editors leave behind: an insert switched off over a covered stretch, or an
    abandoned version of a clip on a disabled track on top."""
    if draft.rng.random() >= draft.profile.disabled_rate:
        return
    base = draft.video_tracks[0]
    candidates = [
        (track, i)
        for track in draft.video_tracks[1:]
        for i, clip in enumerate(track.clips)
        if _covers(base, clip.start_frame, clip.end_frame)
    ]
    if candidates and draft.rng.random() < 0.5:
        track, i = candidates[int(draft.rng.integers(len(candidates)))]
        track.clips[i] = dataclasses.replace(track.clips[i], enabled=False)
        return
    clips = [clip for track in draft.video_tracks for clip in track.clips]
    old = clips[int(draft.rng.integers(len(clips)))]
    draft.video_tracks.append(Track(clips=[old], enabled=False, name=f"V{len(draft.video_tracks) + 1}"))


def _covers(track: Track, start_frame: int, end_frame: int) -> bool:
    """Whether enabled clips on `track` cover every frame of [start, end)."""
    reached = start_frame
    for clip in sorted(track.clips, key=lambda c: c.start_frame):
        if clip.enabled and clip.start_frame <= reached < clip.end_frame:
            reached = clip.end_frame
    return reached >= end_frame


def _check_arguments(timelines: int, seed: int, editors: int, min_seconds: float, max_seconds: float) -> None:
    if seed < 0:
        raise ValueError(f"need a seed of at least 0, got {seed}")
    if timelines < 1 or editors < 1:
        raise ValueError(f"need at least one timeline and one editor, got {timelines} and {editors}")
    if not 0 < min_seconds <= max_seconds:
        raise ValueError(f"need 0 < min_seconds <= max_seconds, got {min_seconds} and {max_seconds}")


def _clear_previous_corpus(out_dir: Path) -> None:
    """Remove an earlier synth corpus (complete or interrupted) so that a rerun leaves no
    stale timelines for ingest to find; refuse a folder that holds anything else."""
    if out_dir.exists() and not out_dir.is_dir():
        raise MultitrackError(f"{out_dir}: not a folder")
    if not out_dir.exists():
        return
    ours, foreign = _synth_files(out_dir)
    if foreign:
        raise MultitrackError(
            f"{out_dir}: holds {foreign[0].relative_to(out_dir).as_posix()}, which synth did not "
            f"write; choose an empty or new folder"
        )
    for path in ours:
        if path.is_dir():
            shutil.rmtree(path)  # a media folder: everything in it was rendered by synth
        else:
            path.unlink()
    for folder in out_dir.iterdir():
        if folder.is_dir():
            folder.rmdir()  # emptied above: every file in it was ours


def _synth_files(out_dir: Path) -> tuple[list[Path], list[Path]]:
    """Files synth writes (synth.json, editorNN/tlNNNN_<style>[_stack].xml, editorNN/media/) and anything else."""
    ours: list[Path] = []
    foreign: list[Path] = []
    for path in sorted(out_dir.iterdir()):
        if path.name == MANIFEST_NAME and path.is_file():
            ours.append(path)
        elif _EDITOR_FOLDER.fullmatch(path.name) and path.is_dir():
            for inner in sorted(path.iterdir()):
                if inner.name == MEDIA_FOLDER and inner.is_dir():
                    ours.append(inner)
                    continue
                (ours if _TIMELINE_FILE.fullmatch(inner.name) and inner.is_file() else foreign).append(inner)
        else:
            foreign.append(path)
    return ours, foreign


def _manifest(arguments: dict, profiles: list[EditorProfile], written: list[SynthTimeline]) -> dict:
    return {
        "format": "multitrack-synth",
        "version": 1,
        "arguments": arguments,
        "styles": list(STYLES),
        "editors": [profile.to_json() for profile in profiles],
        "timelines": [entry for synth in written for entry in _timeline_entries(synth)],
        "sessions": [_session_entry(synth) for synth in written if synth.truth is not None],
    }


def _timeline_entries(synth: SynthTimeline) -> list[dict]:
    """The edit's entry; a podcast session's stack after it, both tagged with role and session."""
    if synth.stack is None:
        return [_timeline_entry(synth.timeline, synth.path, synth)]
    return [
        _timeline_entry(synth.timeline, synth.path, synth, {"role": "edit", "session": synth.session}),
        _timeline_entry(synth.stack, synth.stack_path, synth, {"role": "stack", "session": synth.session}),
    ]


def _session_entry(synth: SynthTimeline) -> dict:
    """What happened in a podcast session: the truth the cut is judged on."""
    assert synth.truth is not None
    return {
        "session": synth.session,
        "editor": synth.editor,
        "edit": synth.path,
        "stack": synth.stack_path,
        **synth.truth,
    }


def _timeline_entry(timeline: Timeline, path: str, synth: SynthTimeline, role: dict | None = None) -> dict:
    clips: list[Clip] = [clip for track in timeline.video_tracks for clip in track.clips]
    return {
        "path": path,
        "name": timeline.name,
        "editor": synth.editor,
        "style": synth.style,
        **(role or {}),
        "timebase": timeline.rate.timebase,
        "ntsc": timeline.rate.ntsc,
        "fps": timeline.rate.fps,
        "width": timeline.width_px,
        "height": timeline.height_px,
        "frames": timeline.duration_frames,
        "video_tracks": len(timeline.video_tracks),
        "video_clips": len(clips),
        "disabled_clips": sum(not clip.enabled for clip in clips),
        "disabled_tracks": sum(not track.enabled for track in timeline.video_tracks),
        "transitions": sum(len(track.transitions) for track in timeline.video_tracks),
        "keyframed_clips": sum(_is_keyframed(clip) for clip in clips),
        "assets": len(timeline.assets),
    }


def _is_keyframed(clip: Clip) -> bool:
    effects = [effect for effect in (clip.motion, clip.crop) if effect is not None]
    return any(getattr(effect, f.name).is_keyframed for effect in effects for f in dataclasses.fields(effect))
