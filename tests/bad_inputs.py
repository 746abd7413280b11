"""Hostile and broken xmeml files for the hardening tests (issue 5), generated in code.

Nothing here is kept on disk in the repository: each case builds its bytes on demand, so
the 100,000-clip file (about 9 MB) exists only in a test's tmp folder.

    context = Context(secret_path=tmp / "secret.txt", url="http://127.0.0.1:8000")
    for case in CASES:
        path = write_case(case, tmp / "batch", context)
    good = write_good_files(tmp / "batch")  # two small timelines whose frames are known

Each case states what `multitrack ingest` must say: `reason` is a regex for the one-line
message after the file name (`<file>: <element>: <reason>`), or, for a file that is
usable, `usable` is True and `check_table` verifies the rows it must give.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import random
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from xmemlgen import (
    RATE_25,
    clipitem,
    document,
    file_def,
    file_ref,
    one_clip,
    project,
    rate,
    sequence,
    sequence_ref,
    track,
)

SECRET_MARKER = "MULTITRACK-XXE-SECRET-7f3a"
MEMORY_LIMIT_BYTES = 3 * 1024**3  # a process that tries to expand an entity bomb dies here, not the machine
TIME_LIMIT_S = 60  # far above any case (all take well under a few seconds), far below a hang


@dataclass(frozen=True)
class Context:
    """What some cases point at: a local file that must never be read, a URL never fetched."""

    secret_path: Path
    url: str


@dataclass(frozen=True)
class GoodFile:
    name: str
    timeline_id: str
    frames: int


@dataclass(frozen=True)
class Case:
    name: str  # also the file's stem
    what: str  # the bad input in words, for the benchmark table
    build: Callable[[Context], bytes]
    reason: str = ""  # regex matched right after "<file>: " in the one-line message
    usable: bool = False
    check_table: Callable[[pa.Table, dict], None] | None = field(default=None, repr=False)  # (table, manifest entry)

    @property
    def file_name(self) -> str:
        return f"{self.name}.xml"


# --- the media files --------------------------------------------------------------------------


# every file: 1920x1080, 25 fps, 100,000 frames, under file://localhost/media/
MEDIA = {"rate": RATE_25, "duration": 100000, "width": 1920, "height": 1080}
FILE_A = file_def("file-1", "a.mov", pathurl="file://localhost/media/a.mov", **MEDIA)
FILE_B = file_def("file-2", "b.mov", pathurl="file://localhost/media/b.mov", **MEDIA)
FRAMES = 50  # the valid one-clip timeline that cases change a single value in: one_clip(CLIP_A, duration=FRAMES)
CLIP_A = clipitem(0, FRAMES, file=FILE_A)


# --- the good files of every batch -----------------------------------------------------------


def write_good_files(folder: Path) -> list[GoodFile]:
    """Two small valid timelines: 40 and 75 frames."""
    folder.mkdir(parents=True, exist_ok=True)
    goods = [GoodFile("good_a.xml", "good_a", 40), GoodFile("good_b.xml", "good_b", 75)]
    for good in goods:
        (folder / good.name).write_text(one_clip(clipitem(0, good.frames, file=FILE_A), duration=good.frames))
    return goods


# --- the cases ---------------------------------------------------------------------------------


def _one_clip(clip: str = CLIP_A, **sequence_fields) -> Callable[[Context], bytes]:
    """The case's build: the valid one-clip timeline with `clip` or a sequence field changed."""
    return lambda _: one_clip(clip, **({"duration": FRAMES} | sequence_fields)).encode()


def _binary_garbage(_: Context) -> bytes:
    noise = random.Random(5).randbytes(4096)
    return b"\x00\x89PNG" + noise


def _truncated(_: Context) -> bytes:
    """A valid file cut inside its 4th line (the second sequence's clip)."""
    text = document(
        sequence(track(CLIP_A), duration=FRAMES), sequence(track(clipitem(0, 20)), id="sequence-2", duration=FRAMES)
    )
    lines = text.split("\n")
    return ("\n".join(lines[:3]) + "\n" + lines[3][: len(lines[3]) // 2]).encode()


TRUNCATED_LAST_LINE = 4


def _nested_self(_: Context) -> bytes:
    inner = sequence(track(clipitem(0, 5, file=sequence_ref("sequence-3"))), id="sequence-3", duration=FRAMES)
    return one_clip(clipitem(0, 5, file=inner), duration=FRAMES).encode()


def _nested_cycle(_: Context) -> bytes:
    four = sequence(track(clipitem(0, 5, file=sequence_ref("sequence-3"))), id="sequence-4", duration=FRAMES)
    three = sequence(track(clipitem(0, 5, file=four)), id="sequence-3", duration=FRAMES)
    return one_clip(clipitem(0, 5, file=three), duration=FRAMES).encode()


THOUSAND_TRACKS = 1000
DEFAULT_MAX_TRACKS = 20


def _thousand_tracks(_: Context) -> bytes:
    """V1 holds file-1 over frames 0-30; V2..V1000 each hold file-2 over frames 10-20."""
    tracks = [track(clipitem(0, 30, file=FILE_A))]
    tracks.append(track(clipitem(10, 20, file=FILE_B)))
    tracks.extend([track(clipitem(10, 20, file=file_ref("file-2")))] * (THOUSAND_TRACKS - 2))
    return document(sequence(*tracks, duration=30)).encode()


def _check_thousand_tracks(table, entry: dict) -> None:
    [timeline] = entry["timelines"]
    dropped = THOUSAND_TRACKS - DEFAULT_MAX_TRACKS
    assert (timeline["tracks_kept"], timeline["tracks_dropped"]) == (DEFAULT_MAX_TRACKS, dropped)
    assert any(
        f"{THOUSAND_TRACKS - DEFAULT_MAX_TRACKS} video track(s) above V{DEFAULT_MAX_TRACKS} dropped" in w
        for w in timeline["warnings"]
    ), timeline["warnings"]
    assert table.num_rows == 30
    assert f"v{DEFAULT_MAX_TRACKS + 1:02d}_active" not in table.column_names
    v1_asset = table.column("v01_asset").to_numpy()
    assert (table.column("v01_active").to_numpy() == 1).all() and (v1_asset == 1).all()
    expected_upper = np.zeros(30, np.int8)
    expected_upper[10:20] = 1  # asset 2 first appears at frame 10
    for track_number in (2, DEFAULT_MAX_TRACKS):
        assert (table.column(f"v{track_number:02d}_active").to_numpy() == expected_upper).all()
        assert (table.column(f"v{track_number:02d}_asset").to_numpy() == expected_upper * 2).all()


HUNDRED_K = 100_000


def many_clipitems(count: int) -> bytes:
    """`count` one-frame clips on V1 alternating between two files: frame f shows file 1 + f % 2."""
    definitions = clipitem(0, 1, file=FILE_A) + clipitem(1, 2, file=FILE_B)
    refs = [clipitem(f, f + 1, f, file=file_ref(f"file-{1 + f % 2}"), name="c") for f in range(2, count)]
    return document(sequence(track(definitions, *refs), duration=count)).encode()


def _hundred_k_clipitems(_: Context) -> bytes:
    return many_clipitems(HUNDRED_K)


def _check_hundred_k(table, entry: dict) -> None:
    [timeline] = entry["timelines"]
    assert timeline["frames"] == HUNDRED_K and table.num_rows == HUNDRED_K
    assert (table.column("frame").to_numpy() == np.arange(HUNDRED_K)).all()
    assert (table.column("v01_active").to_numpy() == 1).all()
    assert (table.column("v01_asset").to_numpy() == 1 + np.arange(HUNDRED_K) % 2).all()
    assert (table.column("v01_scale").to_numpy() == 1.0).all()


def _xxe_local_file(context: Context) -> bytes:
    doctype = f'<!DOCTYPE xmeml [<!ENTITY xxe SYSTEM "file://{context.secret_path}">]>'
    return document(sequence(track(CLIP_A), name="&xxe;", duration=FRAMES), doctype=doctype).encode()


def _network_entity(context: Context) -> bytes:
    doctype = f'<!DOCTYPE xmeml [<!ENTITY % remote SYSTEM "{context.url}/entities.dtd"> %remote;]>'
    return document(sequence(track(CLIP_A), name="&leak;", duration=FRAMES), doctype=doctype).encode()


def _network_dtd(context: Context) -> bytes:
    doctype = f'<!DOCTYPE xmeml SYSTEM "{context.url}/xmeml.dtd">'
    return document(sequence(track(CLIP_A), name="&leak;", duration=FRAMES), doctype=doctype).encode()


def _network_dtd_unused(context: Context) -> bytes:
    doctype = f'<!DOCTYPE xmeml PUBLIC "-//Apple//DTD XMEML 4//EN" "{context.url}/xmeml.dtd">'
    return document(sequence(track(CLIP_A), duration=FRAMES), doctype=doctype).encode()


def _billion_laughs(_: Context) -> bytes:
    levels = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    doctype = f'<!DOCTYPE xmeml [<!ENTITY l0 "lol">{levels}]>'
    return document(sequence(track(CLIP_A), name="&l9;", duration=FRAMES), doctype=doctype).encode()


DEEP_LEVELS = 100_000


def _deep_nesting(_: Context) -> bytes:
    return (
        b'<?xml version="1.0"?>\n<xmeml version="4"><sequence>'
        + b"<a>" * DEEP_LEVELS
        + b"</a>" * DEEP_LEVELS
        + b"</sequence></xmeml>\n"
    )


LATIN1_NAME = "Ærøskøbing café"


def _latin1(_: Context) -> bytes:
    file = file_def("file-1", "kåre.mov", pathurl="file://localhost/media/kåre.mov", **MEDIA)
    clip = clipitem(0, FRAMES, file=file, name="kåre.mov")
    return document(sequence(track(clip), name=LATIN1_NAME, duration=FRAMES), encoding="ISO-8859-1", codec="latin-1")


def _check_latin1(table, entry: dict) -> None:
    [timeline] = entry["timelines"]
    assert timeline["name"] == LATIN1_NAME
    assert [asset["name"] for asset in timeline["assets"]] == ["kåre.mov"]
    assert table.num_rows == 50 and (table.column("v01_active").to_numpy() == 1).all()


def _check_carriage_return(table, entry: dict) -> None:
    [timeline] = entry["timelines"]
    assert timeline["name"] == "line one\rline two\tend"  # kept as written (../shared/docs/xmeml.md §8)
    assert table.num_rows == 50


def _check_one_clip(table, entry: dict) -> None:
    [timeline] = entry["timelines"]
    assert timeline["frames"] == 50 and table.num_rows == 50
    assert (table.column("v01_active").to_numpy() == 1).all()


def _check_undefined_file_id(table, entry: dict) -> None:
    # offline media (references.py): the clip keeps its place, as an asset of unknown size
    [timeline] = entry["timelines"]
    assert table.num_rows == 60 and (table.column("v01_active").to_numpy() == 1).all()
    assert table.column("v01_asset").to_numpy()[[0, 49, 50, 59]].tolist() == [1, 1, 2, 2]
    assert [(a["id"], a["width"]) for a in timeline["assets"]] == [("file-1", 1920), ("file-9", None)]
    assert timeline["media_size_unknown"] == 1
    assert any("never defined in the file" in w and "file id 'file-9'" in w for w in timeline["warnings"])


CASES: tuple[Case, ...] = (
    Case("empty", "empty file", lambda _: b"", r"document: file is empty"),
    Case("binary_garbage", "binary garbage", _binary_garbage, r"document: not XML: starts with b'\\x00\\x89PNG.*'"),
    Case(
        "truncated",
        "truncated XML",
        _truncated,
        rf"document: not well-formed XML \(line {TRUNCATED_LAST_LINE}: [^)]+\)",
    ),
    Case(
        "wrong_root",
        "well-formed XML, not xmeml",
        lambda _: b'<?xml version="1.0"?>\n<fcpxml version="1.10"><resources/></fcpxml>\n',
        r"fcpxml \(line 2\): root element is <fcpxml>, expected <xmeml>",
    ),
    Case(
        "no_sequence",
        "xmeml with no sequence",
        lambda _: document(project(), encoding=None, doctype=None).encode(),
        r"xmeml \(line 2\): holds no <sequence>: there is no timeline in this file",
    ),
    Case(
        "no_rate",
        "sequence without rate",
        _one_clip(rate=""),
        r"sequence/rate \(line 4\): sequence has no <rate>",
    ),
    Case(
        "zero_timebase",
        "timebase 0",
        _one_clip(rate=rate(0)),
        r"sequence/rate/timebase \(line 4\): timebase must be a positive integer, got '0'",
    ),
    Case(
        "negative_timebase",
        "timebase -25",
        _one_clip(rate=rate(-25)),
        r"sequence/rate/timebase \(line 4\): timebase must be a positive integer, got '-25'",
    ),
    Case(
        "non_numeric_frame",
        "start 'ten'",
        _one_clip(clipitem("ten", FRAMES, 0, FRAMES, FILE_A)),
        r"sequence/media/video/track/clipitem/start \(line 4\): expected an integer frame, got 'ten'",
    ),
    Case(
        "nan_frame",
        "end NaN",
        _one_clip(clipitem(0, "NaN", 0, FRAMES, FILE_A)),
        r"sequence/media/video/track/clipitem/end \(line 4\): expected an integer frame, got 'NaN'",
    ),
    Case(
        "infinite_frame",
        "out -Infinity",
        _one_clip(clipitem(0, FRAMES, 0, "-Infinity", FILE_A)),
        r"sequence/media/video/track/clipitem/out \(line 4\): expected an integer frame, got '-Infinity'",
    ),
    Case(
        "start_after_end",
        "clip start 60 after end 50",
        _one_clip(clipitem(60, FRAMES, 0, FRAMES, FILE_A)),
        r"sequence/media/video/track/clipitem \(line 4\): start 60 after end 50",
    ),
    Case(
        "undefined_file_id",
        "clip references an undefined file id",
        _one_clip(CLIP_A + clipitem(50, 60, file=file_ref("file-9")), duration=60),
        usable=True,
        check_table=_check_undefined_file_id,
    ),
    Case(
        "nested_self",
        "nested sequence contains itself",
        _nested_self,
        r"sequence/media/video/track/clipitem/sequence/media/video/track/clipitem/sequence \(line 4\): "
        r"nested sequence 'sequence-3' contains itself",
    ),
    Case(
        "nested_cycle",
        "nested sequences form a cycle",
        _nested_cycle,
        r"sequence(/media/video/track/clipitem/sequence){3} \(line 4\): "
        r"nested sequence 'sequence-3' contains itself via sequence-4",
    ),
    Case("thousand_tracks", "1,000 video tracks", _thousand_tracks, usable=True, check_table=_check_thousand_tracks),
    Case(
        "hundred_k_clipitems",
        "100,000 one-frame clipitems",
        _hundred_k_clipitems,
        usable=True,
        check_table=_check_hundred_k,
    ),
    Case(
        "xxe_local_file",
        "external entity reading a local file",
        _xxe_local_file,
        r"DOCTYPE: declares entities \('xxe'\); xmeml never uses entities and multitrack does not expand them",
    ),
    Case(
        "network_entity",
        "external parameter entity on a URL",
        _network_entity,
        r"DOCTYPE: declares entities \('remote'\); xmeml never uses entities and multitrack does not expand them",
    ),
    Case(
        "network_dtd",
        "entity from an external DTD on a URL",
        _network_dtd,
        r"line 4: uses entity 'leak' from an external DTD \('http://127\.0\.0\.1:\d+/xmeml\.dtd'\), "
        r"which multitrack never loads",
    ),
    Case(
        "network_dtd_unused",
        "external DTD on a URL, no entity used",
        _network_dtd_unused,
        usable=True,
        check_table=_check_one_clip,
    ),
    Case(
        "billion_laughs",
        "billion laughs",
        _billion_laughs,
        r"DOCTYPE: declares entities that expand beyond the parser's limit \(an entity bomb\); "
        r"xmeml never uses entities and multitrack does not expand them",
    ),
    Case(
        "deep_nesting",
        f"{DEEP_LEVELS:,} nested elements",
        _deep_nesting,
        r"document \(line 2\): elements nested deeper than 256 levels, the parser's limit against hostile files",
    ),
    Case("latin1", "ISO-8859-1 declaration, non-ASCII names", _latin1, usable=True, check_table=_check_latin1),
    Case(
        "unknown_encoding",
        "unsupported encoding declaration",
        lambda _: document(sequence(track(CLIP_A), duration=FRAMES), encoding="x-mac-klingon").encode(),
        r"document: not well-formed XML \(line 1: Unsupported encoding: x-mac-klingon\)",
    ),
    Case(
        "control_char_name",
        "name with a control character (U+0001)",
        _one_clip(name="cam\x01one"),
        r"document: not well-formed XML \(line 4: PCDATA invalid Char value 1\)",
    ),
    Case(
        "control_char_reference",
        "name with a control character reference (&#1;)",
        _one_clip(name="cam&#1;one"),
        r"document: not well-formed XML \(line 4: xmlParseCharRef: invalid xmlChar value 1\)",
    ),
    Case(
        "carriage_return_name",
        "name with &#13; and a tab",
        _one_clip(name="line one&#13;line two\tend"),
        usable=True,
        check_table=_check_carriage_return,
    ),
    Case(
        "multiline_bad_value",
        "bad timebase holding newlines",
        _one_clip(rate=rate("2\n5\r\n")),
        r"sequence/rate/timebase \(line 4\): timebase must be a positive integer, got '2\\n5'",
    ),
)

CASES_BY_NAME = {case.name: case for case in CASES}


def write_case(case: Case, folder: Path, context: Context) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / case.file_name
    path.write_bytes(case.build(context))
    return path


# --- running `multitrack ingest` under limits ---------------------------------------------------


def limit_memory() -> None:  # pragma: no cover - runs in the child before exec
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))


def run_ingest(inputs: list[Path], out_path: Path, *extra: str) -> subprocess.CompletedProcess:
    """`multitrack ingest` in a child process limited in time and address space."""
    command = [
        sys.executable,
        "-m",
        "multitrack",
        "ingest",
        *map(str, inputs),
        "-o",
        str(out_path),
        "--no-progress",
        *extra,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=TIME_LIMIT_S, preexec_fn=limit_memory)


def message_pattern(case: Case, path: Path) -> re.Pattern:
    """The whole one-line message: the file's path, then the case's element and reason."""
    return re.compile(re.escape(str(path)) + ": " + case.reason)


def read_outputs(out_path: Path) -> tuple[dict, pa.Table]:
    """The manifest and the frame table an ingest run wrote."""
    manifest = json.loads(out_path.with_suffix(".manifest.json").read_text(encoding="utf-8"))
    return manifest, pq.read_table(out_path)


def file_entry(manifest: dict, relative: str) -> dict:
    [entry] = [entry for entry in manifest["files"] if entry["path"] == relative]
    return entry


def timeline_rows(table: pa.Table, timeline_id: str) -> pa.Table:
    return table.filter(pc.equal(table.column("timeline"), timeline_id))


@contextlib.contextmanager
def recording_http_server() -> Iterator[tuple[str, list[str]]]:
    """A server on 127.0.0.1 that records every request and would serve an entity if asked."""
    requested: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            requested.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'<!ENTITY leak "LEAKED-OVER-HTTP">')

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requested
    finally:
        server.shutdown()
        server.server_close()
