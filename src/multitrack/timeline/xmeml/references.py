"""Which asset a clipitem shows, by reference across the document, and references to nothing.

A clipitem shows a `<file>`, a nested `<sequence>`, an FCP7 `<multiclip>` (the file of its
active angle), a generator's own effect, or no media at all. Files, sequences and multiclips
are defined in full once and referenced elsewhere by a bare `<file id="file-3"/>`
(../shared/docs/xmeml.md §5); `document.collect_definitions` finds every definition first,
because a definition can come after its first use.

**Dangling references.** A bare reference whose id is defined nowhere in the document is a
reference to nothing: Premiere leaves `<file id="file-29"/>` for offline media, inside nested
multicam sequences (nrk/tomat master v4.xml file-327) and in timelines alike. None of them
refuses a file, because none of them changes when a clip plays: a clip's timing is its own
start/end/in/out. Each kind is read the same way:

- `<file id>` never defined, `<sequence id>` never defined, a bare `<multiclip id>` never
  defined, and an active `<angle>` whose clip references an undefined file: the clip keeps its
  place and timing with an asset of unknown media, `Asset(id=<the id>, name=<the id>)`, a file
  with no path and no size (the frame table's manifest counts it in `media_size_unknown`), and
  the timeline's warnings name every missing id once (`dangling_warning`), including those met
  inside its nested sequences;
- a `<file/>` or `<sequence/>` with neither an id nor a definition names nothing at all: the
  clip is read as a clip without media (identity from its `masterclipid`, else its name), like a
  clipitem with no `<file>`, and counted in that warning.

Not read, so never dangling: `<link><linkclipref>` (which audio items belong to a video item),
`masterclipid` pointing at a bin `<clip>` (only an identity), `<sourcetrack>`. Transitions
reference no clip: a `<transitionitem>` is placed by its own start/end and lends an edge to the
clip beside it (`timing.read_edges`). What still refuses a video clip is timing that cannot be
known (reader.py): both edges -1 with no transition beside the clip, or no start/end/in/out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from lxml import etree

from multitrack.timeline.model import Asset, AssetKind, Timeline
from multitrack.timeline.xmeml.assets import element_text, read_file_asset, read_generator_asset, read_size
from multitrack.timeline.xmeml.document import Definitions, XmemlDocument, shown

Missing = tuple[str, str]  # (element kind, id) of a reference to nothing
NestedReader = Callable[[etree._Element, etree._Element], tuple[Timeline, tuple[Missing, ...]]]
SHOWN_IDS = 20  # ids listed in a warning before "and N more"


class ClipReferences:
    """The assets of one document by id, shared by all its timelines, and what each stands for.

    `read_nested(reference, definition)` reads a nested sequence (reader.py: its rate, depth
    and tracks) and returns it with the references to nothing met inside it.
    """

    def __init__(self, doc: XmemlDocument, definitions: Definitions, read_nested: NestedReader):
        self.doc = doc
        self.definitions = definitions
        self.read_nested = read_nested
        self.assets: dict[str, Asset] = {}
        self.missing_in: dict[str, tuple[Missing, ...]] = {}  # asset id -> the missing ids it stands for

    def clip_asset(self, element: etree._Element, fields: dict) -> tuple[Asset, bool]:
        """The asset a clipitem or generatoritem shows, and whether it shows no media (counted
        in the timeline's warnings). `fields` are the item's first children by tag."""
        asset: Asset | None = None
        if "file" in fields:
            asset = self._file_asset(fields["file"])
        elif "sequence" in fields:
            asset = self._sequence_asset(fields["sequence"])
        elif "multiclip" in fields:
            return self._multiclip_asset(fields["multiclip"], fields)
        elif element.tag == "generatoritem":
            asset = read_generator_asset(fields)
        # else e.g. Premiere multicam sources exported without media (nrk/tomat master v4.xml)
        return (asset, False) if asset is not None else (self._without_media(fields), True)

    def _without_media(self, fields: dict) -> Asset:
        """A clip that shows no media: its identity is its master clip, else its name."""
        name = element_text(fields.get("name"))
        ident = element_text(fields.get("masterclipid")) or f"clipitem:{name}"
        return self.assets.setdefault(ident, Asset(id=ident, name=name))

    def _file_asset(self, file_el: etree._Element) -> Asset | None:
        ident = file_el.get("id")
        if ident is not None and ident in self.assets:
            return self.assets[ident]
        definition = self.definitions.files.get(ident, file_el) if ident is not None else file_el
        if len(definition) == 0:
            return self._dangling(ident, "file")
        asset = read_file_asset(self.doc, definition)
        return self.assets.setdefault(asset.id, asset)

    def _sequence_asset(self, sequence_ref: etree._Element) -> Asset | None:
        """A nested sequence used as a clip (../shared/docs/xmeml.md §5): its frame size is the media size."""
        ident = sequence_ref.get("id")
        if ident is not None and ident in self.assets:
            return self.assets[ident]
        definition = sequence_ref if len(sequence_ref) else self.definitions.sequences.get(ident or "")
        if definition is None:
            return self._dangling(ident, "sequence")
        nested, missing = self.read_nested(sequence_ref, definition)
        media_el = definition.find("media")
        video_el = media_el.find("video") if media_el is not None else None
        size = read_size(self.doc, video_el.find("format/samplecharacteristics")) if video_el is not None else None
        asset = Asset(
            id=ident or f"sequence@line{definition.sourceline}",
            name=nested.name,
            kind=AssetKind.SEQUENCE,
            width_px=size[0] if size else None,
            height_px=size[1] if size else None,
            rate=nested.rate,
            duration_frames=nested.end_frame,
            sequence=nested,
        )
        if missing:
            self.missing_in.setdefault(asset.id, missing)
        return self.assets.setdefault(asset.id, asset)

    def _multiclip_asset(self, multiclip_el: etree._Element, fields: dict) -> tuple[Asset, bool]:
        """An FCP7 multicam clip: the file of the angle it shows.

        Premiere writes multicam as nested sequences (../shared/docs/xmeml.md §5); FCP7 writes a
        `<multiclip>` of `<angle>`s, each holding a clip with its file, and marks the angle on
        screen with `<activevideoangle>TRUE` (Apple's FCP7 XML Interchange Format). A bare
        `<multiclip id/>` is the multiclip defined elsewhere with that id. Without an active
        angle with a file, the multiclip itself is the asset, without media.
        """
        ident = multiclip_el.get("id")
        definition = multiclip_el
        if len(multiclip_el) == 0:
            found = self.definitions.multiclips.get(ident or "")
            if found is None:
                dangling = self._dangling(ident, "multiclip")
                return (dangling, False) if dangling is not None else (self._without_media(fields), True)
            definition = found
        for angle in definition.iterchildren("angle"):
            active_el = angle.find("activevideoangle")
            file_el = next(angle.iter("file"), None)
            if active_el is not None and file_el is not None and self.doc.flag(active_el):
                asset = self._file_asset(file_el)
                if asset is not None:
                    return asset, False
        name = element_text(definition.find("name"))
        ident = ident or f"multiclip:{name}"
        return self.assets.setdefault(ident, Asset(id=ident, name=name or ident)), True

    def _dangling(self, ident: str | None, kind: str) -> Asset | None:
        """A reference to an id defined nowhere: offline media of unknown size; None without an id."""
        if ident is None:
            return None
        self.missing_in.setdefault(ident, ((kind, ident),))
        return self.assets.setdefault(ident, Asset(id=ident, name=ident))


def dangling_warning(missing: Iterable[Missing]) -> str:
    """One warning naming every id referenced and never defined, by kind, in the order met."""
    by_kind: dict[str, list[str]] = {}
    for kind, ident in missing:
        by_kind.setdefault(kind, []).append(ident)
    parts = []
    for kind, idents in by_kind.items():
        listed = ", ".join(shown(ident) for ident in idents[:SHOWN_IDS])
        more = f" and {len(idents) - SHOWN_IDS} more" if len(idents) > SHOWN_IDS else ""
        parts.append(f"{kind} id{'s' if len(idents) > 1 else ''} {listed}{more}")
    return (
        f"references ids never defined in the file (offline media): {'; '.join(parts)}; "
        f"their clips keep their place and timing, as media of unknown size"
    )
