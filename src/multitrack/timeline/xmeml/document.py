"""An xmeml document: safe parsing, element paths for errors, its definitions by id, and
values both ways (element text -> frame, number, flag when reading; value -> text when writing).

Parsing is safe against hostile files (issue 5): lxml parses with entity
resolution, DTD loading and network access off, and a resolver that answers every
external load (DTD, parameter entity) with an empty document, so nothing is read from
disk or network because a file asked. A DOCTYPE that declares entities is refused:
real exports only ever write a bare `<!DOCTYPE xmeml>` (../shared/docs/xmeml.md §1).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Protocol, cast

from lxml import etree

from multitrack.errors import XmemlError

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_TRUE_WORDS = frozenset({"true", "1", "yes"})
_FALSE_WORDS = frozenset({"false", "0", "no"})
_SHOWN_VALUE_CHARS = 40
MAX_ELEMENT_DEPTH = 256  # libxml2's limit without huge_tree; real xmeml nests about 20 deep


class _Named(Protocol):
    """lxml's DTD entity declarations and `etree.Entity` nodes; lxml-stubs 0.5 types neither."""

    @property
    def name(self) -> str | None: ...


class _EntityDeclarations(Protocol):
    """`etree.DTD.iterentities`, which lxml has and lxml-stubs 0.5 leaves out."""

    def iterentities(self) -> Iterator[_Named]: ...


class _RefuseExternal(etree.Resolver):
    """Answers every external load with an empty document and remembers the URL."""

    def __init__(self) -> None:
        super().__init__()
        self.requested: list[str] = []

    def resolve(self, system_url, public_id, context):
        self.requested.append(str(system_url))
        return self.resolve_string("", context)


def _safe_parser() -> tuple[etree.XMLParser, _RefuseExternal]:
    parser = etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,  # keeps libxml2's depth (MAX_ELEMENT_DEPTH) and text-size limits
        dtd_validation=False,
        collect_ids=False,
    )
    resolver = _RefuseExternal()
    parser.resolvers.add(resolver)
    return parser, resolver


def printable(text: str) -> str:
    """Text with control characters (`&#13;` in names, ../shared/docs/xmeml.md §8) escaped, so it stays one line."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def shown(text: str | None) -> str:
    """A value as it appears inside a one-line message: quoted, control characters escaped, cut short."""
    if text is None:
        return "nothing"
    escaped = printable(text.strip())
    if len(escaped) > _SHOWN_VALUE_CHARS:
        escaped = escaped[:_SHOWN_VALUE_CHARS] + "..."
    return f"'{escaped}'"


class XmemlDocument:
    """The element tree of one file plus the means to name its elements in errors."""

    def __init__(self, path: str, root: etree._Element):
        self.path = path
        self.root = root
        self._tree = root.getroottree()

    # --- naming elements -------------------------------------------------------------

    def where(self, element: etree._Element, child_tag: str | None = None) -> str:
        """`sequence/media/video/track[2]/clipitem[5]/start (line 120)`."""
        xpath = self._tree.getpath(element).removeprefix("/").removeprefix("xmeml/")
        if child_tag:
            xpath = f"{xpath}/{child_tag}"
        return f"{xpath} (line {element.sourceline})"

    def error(self, element: etree._Element, reason: str, child_tag: str | None = None) -> XmemlError:
        return XmemlError(self.path, self.where(element, child_tag), reason)

    # --- values ------------------------------------------------------------------------

    def frame(self, element: etree._Element) -> int:
        """An integer frame; Hiero writes whole numbers as `1055.0`, which round."""
        text = element.text
        if text is not None:  # no text is NaN below, and so the error
            try:
                return int(text)
            except (TypeError, ValueError):
                pass
        try:
            value = math.nan if text is None else float(text)
        except (TypeError, ValueError):
            value = math.nan
        if not math.isfinite(value):
            raise self.error(element, f"expected an integer frame, got {shown(text)}")
        return round(value)

    def number(self, element: etree._Element) -> float:
        text = element.text
        try:
            value = math.nan if text is None else float(text)
        except (TypeError, ValueError):
            value = math.nan
        if not math.isfinite(value):
            raise self.error(element, f"expected a number, got {shown(text)}")
        return value

    def flag(self, element: etree._Element) -> bool:
        """TRUE/FALSE in any case (FCP7 v3 files write `False`, ../shared/docs/xmeml.md §2)."""
        word = (element.text or "").strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        raise self.error(element, f"expected TRUE or FALSE, got {shown(element.text)}")


def parse_xmeml(path: str | Path) -> XmemlDocument:
    """Read and safely parse one file; the root must be `<xmeml>`."""
    path = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise XmemlError(path, "file", f"cannot be read ({exc.strerror or exc})") from exc
    _check_looks_like_xml(path, data)
    parser, resolver = _safe_parser()
    try:
        # bytes, not text: libxml2 honours the UTF-8 BOM of Premiere exports (../shared/docs/xmeml.md §1)
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(path, exc) from exc
    except (ValueError, LookupError) as exc:
        raise XmemlError(path, "document", f"cannot be decoded ({exc})") from exc
    if root is None:
        raise XmemlError(path, "document", "not XML: no root element")
    _check_doctype(path, root, resolver)
    if root.tag != "xmeml":
        raise XmemlError(
            path,
            f"{_tag_name(root)} (line {root.sourceline})",
            f"root element is <{_tag_name(root)}>, expected <xmeml>",
        )
    return XmemlDocument(path, root)


def _syntax_error(path: str, exc: etree.XMLSyntaxError) -> XmemlError:
    """libxml2's message, except for its limits against hostile files, told in the user's terms."""
    line = exc.lineno if exc.lineno is not None else "?"
    message = str(exc.msg).split(", line ")[0]
    # libxml2 words these as advice to its API's callers ("use XML_PARSE_HUGE option",
    # "see xmlCtxtSetMaxAmplification"), which a user cannot act on; its line for an
    # entity bomb is where the expansion stopped, not where it was declared
    if "entity amplification" in message:
        return XmemlError(
            path,
            "DOCTYPE",
            "declares entities that expand beyond the parser's limit (an entity "
            "bomb); xmeml never uses entities and multitrack does not expand them",
        )
    if "Excessive depth" in message:
        return XmemlError(
            path,
            f"document (line {line})",
            f"elements nested deeper than {MAX_ELEMENT_DEPTH} levels, the parser's limit against hostile files",
        )
    return XmemlError(path, "document", f"not well-formed XML (line {line}: {message})")


def _tag_name(element: etree._Element) -> str:
    return element.tag if isinstance(element.tag, str) else type(element).__name__


def _check_looks_like_xml(path: str, data: bytes) -> None:
    body = data[:4096].removeprefix(_UTF8_BOM).lstrip()  # a slice: never copy a 4 MB file
    if not body and not data[4096:].strip():
        raise XmemlError(path, "document", "file is empty")
    if not body.startswith(b"<") and not data.startswith(_UTF16_BOMS):
        raise XmemlError(path, "document", f"not XML: starts with {body[:16]!r}")


def _check_doctype(path: str, root: etree._Element, resolver: _RefuseExternal) -> None:
    """Refuse entity declarations; an external DTD is never loaded (the resolver served nothing)."""
    dtd = root.getroottree().docinfo.internalDTD
    declared = cast(_EntityDeclarations | None, dtd)
    names = [entity.name for entity in declared.iterentities()] if declared is not None else []
    if names:
        listed = ", ".join(shown(name) for name in names[:5])
        raise XmemlError(
            path,
            "DOCTYPE",
            f"declares entities ({listed}); xmeml never uses entities and multitrack does not expand them",
        )
    if resolver.requested:
        # An external DTD was asked for and served empty; its entities would silently vanish.
        unexpanded = next(root.iter(etree.Entity), None)
        if unexpanded is not None:
            raise XmemlError(
                path,
                f"line {unexpanded.sourceline}",
                f"uses entity {shown(cast(_Named, unexpanded).name)} from an external DTD "
                f"({shown(resolver.requested[0])}), which multitrack never loads",
            )


# --- definitions by id (../shared/docs/xmeml.md §1, §5) ------------------------------------------


@dataclass
class Definitions:
    """Where each `<file>`, `<sequence>` and `<multiclip>` is defined, and which sequences are timelines."""

    files: dict[str, etree._Element] = field(default_factory=dict)
    sequences: dict[str, etree._Element] = field(default_factory=dict)
    multiclips: dict[str, etree._Element] = field(default_factory=dict)
    timelines: list[etree._Element] = field(default_factory=list)
    has_nested: bool = False  # any <sequence> used as a clip


def collect_definitions(doc: XmemlDocument) -> Definitions:
    """Full `<file>`/`<sequence>`/`<multiclip>` definitions by id (first wins); sequences not in
    a clipitem.

    One pass over the whole tree first, because definitions can come after their first use
    (§5: nrk/tomat master v4.xml, nrk/Multicam_Moser_1.xml). An id with bare references only is
    defined nowhere: references.py reads those as offline media.
    """
    definitions = Definitions()
    for element in doc.root.iter("file", "sequence", "multiclip"):
        is_file = element.tag == "file"
        if len(element) == 0:  # a bare reference such as <file id="file-3"/>
            definitions.has_nested |= element.tag == "sequence"
            continue
        ident = element.get("id")
        if element.tag == "multiclip":
            if ident is not None:
                definitions.multiclips.setdefault(ident, element)
            continue
        if is_file:
            # a partial use (`<file id><name/></file>`) must not hide the full definition
            # that follows it (../shared/docs/xmeml.md §5): the one with the most children wins
            known = definitions.files.get(ident) if ident is not None else None
            if ident is not None and (known is None or len(element) > len(known)):
                definitions.files[ident] = element
            continue
        if ident is not None:
            definitions.sequences.setdefault(ident, element)
        if _inside_clipitem(element):
            definitions.has_nested = True
        else:
            definitions.timelines.append(element)
    return definitions


def _inside_clipitem(element: etree._Element) -> bool:
    return any(True for _ in element.iterancestors("clipitem"))


def _nested_refs(sequence_el: etree._Element):
    return sequence_el.iterfind("media/*/track/clipitem/sequence")


def check_nesting(doc: XmemlDocument, definitions: Definitions, top: etree._Element) -> None:
    """Refuse a nested sequence that contains itself: depth-first over nested-sequence
    references, with an explicit stack (no recursion limit)."""

    def key_of(sequence_el):
        return sequence_el.get("id") or f"@line {sequence_el.sourceline}"

    chain = [key_of(top)]
    pending = [_nested_refs(top)]
    finished: set[str] = set()
    while pending:
        ref = next(pending[-1], None)
        if ref is None:
            pending.pop()
            finished.add(chain.pop())
            continue
        target = ref if ref.get("id") is None else definitions.sequences.get(ref.get("id"))
        if target is None or len(target) == 0:
            continue  # undefined: the clip reader reports it with the clip's path
        key = key_of(target)
        if key in chain:
            cycle = chain[chain.index(key) + 1 :]
            via = f" via {', '.join(cycle)}" if cycle else ""
            raise doc.error(ref, f"nested sequence '{key}' contains itself{via}")
        if key not in finished:
            chain.append(key)
            pending.append(_nested_refs(target))


# --- values as written ---------------------------------------------------------------------------


def add_text(parent: etree._Element, tag: str, value: object) -> etree._Element:
    """A child `<tag>value</tag>` at the end of `parent`."""
    element = etree.SubElement(parent, tag)
    element.text = str(value)
    return element


def flag_text(flag: bool) -> str:
    """TRUE/FALSE, as Premiere writes a flag (`XmemlDocument.flag` reads any case)."""
    return "TRUE" if flag else "FALSE"


def number_text(value: float) -> str:
    """Shortest text that reads back as the same float, without an exponent;
    whole numbers without a decimal point, as Premiere writes them ("100", "93.75")."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return format(Decimal(repr(float(value))), "f")
