"""xmeml (FCP7 XML from Premiere, FCP7, Resolve, Hiero) -> `Timeline`s.

The story of `read_xmeml`:
1. parse the bytes safely (`document`), root `<xmeml>`;
2. first pass (`document.collect_definitions`): every `<file id>` and `<sequence id>`
   definition, wherever it sits, because definitions can come after their first use
   (../shared/docs/xmeml.md §5), and the sequences not nested in a clipitem: each is a timeline (§1);
3. refuse nested sequences that contain themselves (`document.check_nesting`);
4. read each timeline: rate, frame size, tracks, clips (`-1` edges and retimed in/out by the
   reading side of `timing`, §4), effects (`effects`), assets by reference (`references`,
   `assets`): a reference to an id defined nowhere is offline media, named in a warning.

Every clipitem time is an integer frame at the *sequence* rate, whatever rate the clip or
file declares (§2), so clip rates are never used for conversion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from multitrack.errors import XmemlError
from multitrack.timeline.model import Asset, AssetKind, AudioTrackType, Clip, Rate, Timeline, Track, Transition
from multitrack.timeline.xmeml.assets import (
    element_text,
    first_children,
    media_parts,
    positive_integer,
    read_rate,
    read_size,
    timecode_parts,
    track_elements,
)
from multitrack.timeline.xmeml.document import (
    Definitions,
    XmemlDocument,
    check_nesting,
    collect_definitions,
    parse_xmeml,
    shown,
)
from multitrack.timeline.xmeml.effects import ClipEffects, read_effects
from multitrack.timeline.xmeml.references import ClipReferences, Missing, dangling_warning
from multitrack.timeline.xmeml.timing import read_edges, source_axis

KNOWN_VERSIONS = frozenset({"1", "3", "4", "5"})
FALLBACK_SIZE_PX = (1920, 1080)
MAX_NESTING_DEPTH = 64  # nested sequences inside nested sequences; real files use 1 or 2
_CLIP_TAGS = frozenset(
    {
        "name",
        "enabled",
        "start",
        "end",
        "in",
        "out",
        "file",
        "sequence",
        "multiclip",
        "masterclipid",
        "effect",
        "sourcetrack",
    }
)
_NO_EFFECTS = ClipEffects()


def read_xmeml(path: str | Path) -> list[Timeline]:
    """Every timeline in one xmeml file, in document order.

    Raises `XmemlError` naming the file, the element and the reason for anything it
    cannot read, including a file that holds no sequence. A reference to nothing (a `<file>`,
    nested `<sequence>` or `<multiclip>` id defined nowhere) never refuses the file: its clips
    keep their place as media of unknown size and a warning names the ids (`references`).
    What refuses a file is a video clip whose timing cannot be known: no start/end/in/out,
    or both edges -1 with no transition beside it.
    """
    doc = parse_xmeml(path)
    definitions = collect_definitions(doc)
    if not definitions.timelines:
        raise doc.error(doc.root, "holds no <sequence>: there is no timeline in this file")
    if definitions.has_nested:
        for sequence_el in definitions.timelines:
            check_nesting(doc, definitions, sequence_el)
    reader = _SequenceReader(doc, definitions)
    return [reader.read_timeline(sequence_el) for sequence_el in definitions.timelines]


# --- timelines -----------------------------------------------------------------------------


@dataclass(slots=True)
class _RawClip:
    """A clipitem as written, before its -1 edges are resolved."""

    element: etree._Element
    start: int
    end: int
    in_frame: int
    out_frame: int
    name: str
    enabled: bool
    asset_id: str
    effects: ClipEffects
    source_channel: int = 1


@dataclass
class _TimelineNotes:
    """What the clips of one timeline add up to: its assets and the counts behind warnings."""

    assets: dict[str, Asset] = field(default_factory=dict)
    retimed: int = 0
    variable_speed: int = 0
    without_media: int = 0
    flipped: int = 0
    missing: dict[Missing, None] = field(default_factory=dict)  # references to nothing, in the order met
    audio_dropped: list[XmemlError] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)


class _SequenceReader:
    def __init__(self, doc: XmemlDocument, definitions: Definitions):
        self.doc = doc
        self.definitions = definitions
        self.references = ClipReferences(doc, definitions, self._read_nested)  # assets shared by all timelines
        self._rates: list[Rate] = []  # the sequences being read, outermost first

    def read_timeline(self, sequence_el: etree._Element) -> Timeline:
        return self._read(sequence_el)[0]

    def _read_nested(self, reference, definition) -> tuple[Timeline, tuple[Missing, ...]]:
        if len(self._rates) > MAX_NESTING_DEPTH:
            raise self.doc.error(reference, f"nested sequences go deeper than {MAX_NESTING_DEPTH} levels")
        timeline, notes = self._read(definition, outer_rate=self._rates[-1])
        return timeline, tuple(notes.missing)

    def _read(self, sequence_el: etree._Element, outer_rate: Rate | None = None) -> tuple[Timeline, _TimelineNotes]:
        """One sequence and its notes; `outer_rate` stands in for a nested sequence that declares none."""
        doc = self.doc
        fields = first_children(sequence_el)
        notes = _TimelineNotes()
        if fields.get("rate") is None and outer_rate is not None:
            rate = outer_rate
            notes.extra.append(f"nested sequence has no <rate>; using its parent's {rate}")
        else:
            rate = self._sequence_rate(sequence_el, fields, notes)
        self._rates.append(rate)
        video_el, audio_el = media_parts(fields.get("media"))
        video_tracks = [self._track(t, notes, True) for t in track_elements(video_el)]
        audio_tracks = [self._track(t, notes, False) for t in track_elements(audio_el)]
        timeline = Timeline(
            name=element_text(fields.get("name")),
            rate=rate,
            width_px=0,
            height_px=0,
            duration_frames=0,
            video_tracks=video_tracks,
            audio_tracks=audio_tracks,
            assets=notes.assets,
            timecode_frame=timecode_parts(doc, fields.get("timecode"))[0] or 0,
        )
        timeline.width_px, timeline.height_px = self._frame_size(video_el, timeline)
        timeline.duration_frames = self._duration(fields.get("duration"), timeline)
        timeline.warnings.extend(self._warnings(notes))
        self._rates.pop()
        return timeline, notes

    # --- sequence-level values ---------------------------------------------------------

    def _sequence_rate(self, sequence_el, fields: dict, notes: _TimelineNotes) -> Rate:
        rate_el = fields.get("rate")
        if rate_el is not None:
            return read_rate(self.doc, rate_el)
        # The sequence's <timecode> carries the sequence's own rate (../shared/docs/xmeml.md §1)
        timecode_rate_el = fields["timecode"].find("rate") if "timecode" in fields else None
        if timecode_rate_el is None:
            raise self.doc.error(sequence_el, "sequence has no <rate>", "rate")
        rate = read_rate(self.doc, timecode_rate_el)
        notes.extra.append(f"sequence has no <rate>; using its timecode's {rate}")
        return rate

    def _frame_size(self, video_el, timeline: Timeline) -> tuple[int, int]:
        """format/samplecharacteristics, else the first video file's size, else 1920x1080 (DESIGN §2)."""
        size = read_size(self.doc, video_el.find("format/samplecharacteristics")) if video_el is not None else None
        if size is not None:
            return size
        for track in timeline.video_tracks:
            for clip in track.clips:
                asset = timeline.assets[clip.asset_id]
                if asset.kind is AssetKind.FILE and asset.width_px and asset.height_px:
                    timeline.warnings.append(
                        f"sequence has no frame size; using the first video file's size "
                        f"{asset.width_px}x{asset.height_px} ({shown(asset.name)})"
                    )
                    return asset.width_px, asset.height_px
        timeline.warnings.append(
            f"sequence has no frame size and no video file gives one; using {FALLBACK_SIZE_PX[0]}x{FALLBACK_SIZE_PX[1]}"
        )
        return FALLBACK_SIZE_PX

    def _duration(self, duration_el, timeline: Timeline) -> int:
        if duration_el is None or not element_text(duration_el):  # <duration/> says nothing either
            last_end = max((c.end_frame for t in timeline.video_tracks for c in t.clips), default=0)
            if len(self._rates) == 1:  # nested multicam sequences never carry one (nrk/tomat…)
                timeline.warnings.append(f"sequence has no <duration>; using its last clip's end, {last_end}")
            return last_end
        duration = self.doc.frame(duration_el)
        if duration < 0:
            raise self.doc.error(duration_el, f"duration must be 0 or more, got {duration}")
        return duration

    def _warnings(self, notes: _TimelineNotes) -> list[str]:
        warnings = list(notes.extra)
        version = self.doc.root.get("version")
        if version not in KNOWN_VERSIONS:
            warnings.append(f"xmeml version {shown(version)} is not one of 1, 3, 4, 5; read as version 4")
        if notes.retimed:
            variable = notes.variable_speed
            warnings.append(
                f"{notes.retimed} time-remapped clip(s) (speed ≠ 100%): source frames and keyframes "
                f"mapped at constant speed"
                + (f"; {variable} with variable speed, approximated by their speed value" if variable else "")
            )
        if notes.flipped:
            warnings.append(
                f"{notes.flipped} clip(s) written reversed (start > end, in > out); "
                f"read as reversed clips over the same span"
            )
        if notes.missing:
            warnings.append(dangling_warning(notes.missing))
        if notes.audio_dropped:
            first = notes.audio_dropped[0]
            warnings.append(
                f"{len(notes.audio_dropped)} audio item(s) cannot be read and were dropped "
                f"(their frames are silent in the frame table); first: {first.element}: {first.reason}"
            )
        if notes.without_media:
            warnings.append(
                f"{notes.without_media} clipitem(s) have neither a file nor a nested "
                f"sequence; kept as assets without media"
            )
        return warnings

    # --- tracks and clips ----------------------------------------------------------------

    def _track(self, track_el, notes: _TimelineNotes, is_video: bool) -> Track:
        """One track; an unreadable audio item is dropped and counted, a video one refuses the file.

        An audio clip that cannot be read only leaves its frames unheard in the frame table,
        which is no reason to refuse the file's timelines (docs/xmeml-audio.md).
        """
        items: list[_RawClip | Transition] = []
        track = Track(name=track_el.get("MZ.TrackName", ""))
        if not is_video:
            track.audio_type = _audio_track_type(track_el)
        for child in track_el:
            tag = child.tag
            try:
                if tag == "clipitem" or tag == "generatoritem":
                    items.append(self._raw_clip(child, notes))
                elif tag == "transitionitem":
                    items.append(self._transition(child))
                elif tag == "enabled":
                    track.enabled = self.doc.flag(child)

            except XmemlError as exc:
                if is_video:
                    raise
                notes.audio_dropped.append(exc)
        for index, item in enumerate(items):
            if isinstance(item, Transition):
                track.transitions.append(item)
                continue
            try:
                track.clips.append(self._resolve_clip(items, index, notes))
            except XmemlError as exc:
                if is_video:
                    raise
                notes.audio_dropped.append(exc)
        return track

    def _raw_clip(self, element, notes: _TimelineNotes) -> _RawClip:
        doc = self.doc
        fields: dict = {}
        filters = []
        for child in element:
            tag = child.tag
            if tag == "filter":
                filters.append(child)
            elif tag in _CLIP_TAGS and tag not in fields:
                fields[tag] = child
        enabled_el = fields.get("enabled")
        return _RawClip(
            element=element,
            start=self._required_frame(element, fields, "start"),
            end=self._required_frame(element, fields, "end"),
            in_frame=self._required_frame(element, fields, "in"),
            out_frame=self._required_frame(element, fields, "out"),
            name=element_text(fields.get("name")),
            enabled=doc.flag(enabled_el) if enabled_el is not None else True,
            asset_id=self._clip_asset(element, fields, notes),
            effects=read_effects(doc, filters) if filters else _NO_EFFECTS,
            source_channel=_source_channel(fields.get("sourcetrack")),
        )

    def _required_frame(self, element, fields: dict, tag: str) -> int:
        child = fields.get(tag)
        if child is None:
            raise self.doc.error(element, f"{element.tag} has no <{tag}>", tag)
        return self.doc.frame(child)

    def _transition(self, element) -> Transition:
        fields = first_children(element)
        start = self._required_frame(element, fields, "start")
        end = self._required_frame(element, fields, "end")
        if start < 0 or start > end:
            raise self.doc.error(element, f"transition start {start} and end {end} do not form a span")
        effect = first_children(fields["effect"]) if "effect" in fields else {}
        return Transition(
            start_frame=start,
            end_frame=end,
            alignment=element_text(fields.get("alignment")) or "center",
            name=element_text(effect.get("name")),
            effect_id=element_text(effect.get("effectid")),
        )

    def _resolve_clip(self, items: list, index: int, notes: _TimelineNotes) -> Clip:
        raw: _RawClip = items[index]
        start, end, flipped = _resolve_edges(self.doc, items, index)
        in_frame, out_frame, effects = raw.in_frame, raw.out_frame, raw.effects
        speed, reverse = 100.0, False
        if flipped:
            in_frame, out_frame, reverse = out_frame, in_frame, True
            notes.flipped += 1
        remap = effects.remap
        if remap is not None and (remap.speed_percent != 100.0 or remap.reverse):
            # in/out and keyframe whens count retimed frames (../shared/docs/xmeml.md §4)
            in_frame, out_frame, source_when = source_axis(
                in_frame, out_frame, remap.speed_percent, remap.reverse, remap.graph
            )
            effects = effects.with_whens_mapped(source_when)
            speed, reverse = remap.speed_percent, reverse != remap.reverse
            notes.retimed += 1
            notes.variable_speed += remap.variable
        return Clip(
            asset_id=raw.asset_id,
            start_frame=start,
            end_frame=end,
            in_frame=in_frame,
            out_frame=out_frame,
            name=raw.name,
            enabled=raw.enabled,
            motion=effects.motion,
            crop=effects.crop,
            speed=speed,
            reverse=reverse,
            audio=effects.audio,
            source_channel=raw.source_channel,
        )

    # --- assets ---------------------------------------------------------------------------

    def _clip_asset(self, element, fields: dict, notes: _TimelineNotes) -> str:
        asset, without_media = self.references.clip_asset(element, fields)
        notes.without_media += without_media
        notes.assets.setdefault(asset.id, asset)
        notes.missing.update(dict.fromkeys(self.references.missing_in.get(asset.id, ())))
        return asset.id


# --- audio tracks and channels (docs/xmeml-audio.md) -----------------------------------------


def _audio_track_type(track_el) -> AudioTrackType | None:
    """Premiere's track attributes: a stereo track is written as two xmeml tracks with
    `premiereTrackType="Stereo"` and `currentExplodedTrackIndex` 0 and 1."""
    premiere_type = track_el.get("premiereTrackType")
    index = track_el.get("currentExplodedTrackIndex")
    count = track_el.get("totalExplodedTrackCount")
    if premiere_type is None and index is None and count is None:
        return None
    index_value = int(index) if index is not None and index.isdigit() else None
    return AudioTrackType(premiere_type, index_value, positive_integer(count))


def _source_channel(sourcetrack_el) -> int:
    """`sourcetrack/trackindex`: the media's channel the clip plays, 1-based; the first if absent or unreadable."""
    if sourcetrack_el is None:
        return 1
    return positive_integer(sourcetrack_el.findtext("trackindex")) or 1


# --- -1 edges ---------------------------------------------------------------------------------


def _resolve_edges(doc: XmemlDocument, items: list, index: int) -> tuple[int, int, bool]:
    """Timeline start/end of the clip at `items[index]` (-1 edges by `timing.read_edges`), and
    whether FCP7 wrote it reversed.

    FCP7 writes some reversed clips with start > end *and* in > out
    (nrk/dnpr6370211-alt-offline.hg.xml, "Cartoon Timpani.caf": in 17, out 3, start 3019,
    end 3005); those spans are flipped. start > end with in <= out is an error.
    """
    raw: _RawClip = items[index]
    length = raw.out_frame - raw.in_frame
    before = items[index - 1] if index > 0 else None
    after = items[index + 1] if index + 1 < len(items) else None
    edges = read_edges(raw.start, raw.end, length, before, after)
    if edges is None:
        raise doc.error(raw.element, "start and end are both -1 and no transition beside the clip gives either")
    start, end = edges
    flipped = start > end and length < 0
    if flipped:
        start, end = end, start
    if start < 0:
        raise doc.error(raw.element, f"start must be a frame ≥ 0 (or -1 next to a transition), got {start}", "start")
    if start > end:
        raise doc.error(raw.element, f"start {start} after end {end}")
    return start, end, flipped
