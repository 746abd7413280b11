"""xmeml files and folders -> the Parquet frame table and its manifest.

The story of `ingest`:
1. find the input files (folders: every *.xml below, sorted) and give each its
   path relative to the folder it was found in;
2. convert each file in a worker, a few files a pool task (read bytes, sha256,
   parse, frame arrays per timeline, packed as `TimelineColumns` with all-default
   columns left out; the media of its heard assets looked for, features/media.py);
   a bad file becomes an error entry and the batch goes on;
3. hear, in the parent, what each file's timelines play (features/sound.py): the media
   they found, analysed together by the hearing engine (one decode per media file, a pool of
   `jobs` whose unit is a file, hops cached on disk); missing or unreadable media leaves
   frames unheard, counted and named, never an error; `audio=False` (--no-audio) skips 2's
   look-up and 3;
4. stream the results, in input order, into the frame-table writer (table/writer.py:
   Parquet, and CSV on request) a bounded number of rows at a time, so memory does not
   grow with the number of files; the row groups shrink over the last files (see flush_limits);
5. write the manifest (manifest.py) and rename the outputs from their temporary names,
   so a killed run never leaves a complete-looking file.
"""

from __future__ import annotations

import collections
import hashlib
import multiprocessing
import os
import sys
import time
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from multitrack.errors import MultitrackError
from multitrack.features.frames import timeline_frames
from multitrack.features.hearing import HopCache
from multitrack.features.listening import find_media, hear_file
from multitrack.features.manifest import ManifestWriter, manifest_path
from multitrack.features.media import MediaFinder
from multitrack.features.packing import timeline_columns
from multitrack.features.schema import DEFAULT_MAX_AUDIO_TRACKS, DEFAULT_MAX_TRACKS
from multitrack.features.sound import HearingPlan
from multitrack.features.table import FrameTableWriter, TimelineColumns
from multitrack.features.table.writer import ROWS_PER_BATCH
from multitrack.timeline.model import Timeline
from multitrack.timeline.xmeml import read_xmeml

# Files converted ahead of the writer per worker: bounds the pool's memory (a few MB
# per file). Results come back in input order, so a small window leaves a worker that
# finished the small files behind a long one idle, and lets both workers fill it while the
# parent encodes a row group (docs/decisions.md, "ingest: files in flight").
IN_FLIGHT_PER_JOB = 8
FILES_PER_TASK = 4  # files a pool task converts, at most (see task_chunks)
TAIL_SHARE = 0.25  # row groups shrink over this last share of the input bytes (see flush_limits)
MIN_TAIL_ROWS = 8192  # the smallest row group they shrink to: each row group has a fixed cost on top of its rows


@dataclass(frozen=True)
class AudioOptions:
    """How ingest hears (picklable: it travels with each pool task).

    `hear` False (--no-audio): no media look-up and no decoding; the audio tracks' active,
    asset and gain columns are written, every frame unheard.
    """

    max_audio_tracks: int = DEFAULT_MAX_AUDIO_TRACKS
    hear: bool = True
    finder: MediaFinder = MediaFinder()


@dataclass(frozen=True)
class InputFile:
    """One xmeml file to ingest; `relative` is its path relative to the folder it was found in."""

    path: Path
    relative: str


@dataclass
class FileResult:
    """What a worker sends back for one file: its frame arrays, or the reason it failed."""

    input: InputFile
    size_bytes: int = 0
    sha256: str | None = None
    timelines: list[TimelineColumns] = field(default_factory=list)
    plans: list[HearingPlan] = field(default_factory=list)  # one per timeline when hearing
    error: str | None = None
    parse_s: float = 0.0
    features_s: float = 0.0


@dataclass
class IngestReport:
    """Counts, outputs and the time split of one ingest run."""

    out_path: Path
    manifest_path: Path
    csv_path: Path | None = None
    files: int = 0
    failed: int = 0
    timelines: int = 0
    frames: int = 0
    bytes_read: int = 0
    errors: list[str] = field(default_factory=list)
    media_found: set[str] = field(default_factory=set)  # pathurls of heard assets, over the batch
    media_missing: set[str] = field(default_factory=set)
    media_unreadable: dict[str, str] = field(default_factory=dict)  # media file -> why
    heard_frames: int = 0  # frames x audio tracks heard
    parse_s: float = 0.0  # summed over workers
    features_s: float = 0.0  # summed over workers
    hear_s: float = 0.0
    write_s: float = 0.0
    total_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def media_counts(self) -> dict[str, int]:
        """The manifest summary's `media`: heard assets (distinct pathurls) found and missing, files unreadable."""
        return {
            "found": len(self.media_found),
            "missing": len(self.media_missing - self.media_found),
            "unreadable": len(self.media_unreadable),
        }

    def media_line(self) -> str | None:
        """The one-line summary of missing and unreadable media; None when all was found."""
        counts = self.media_counts()
        heard = counts["found"] + counts["missing"]
        if not counts["missing"] and not counts["unreadable"]:
            return None
        parts = []
        if counts["missing"]:
            parts.append(f"media of {counts['missing']} of {heard} heard asset(s) not found")
        if counts["unreadable"]:
            parts.append(f"{counts['unreadable']} media file(s) unreadable")
        return f"audio: {', '.join(parts)}; their frames are unheard (see the manifest; --media-root, --media-dir)"


def ingest(
    inputs: Sequence[str | Path],
    out_path: str | Path,
    max_tracks: int = DEFAULT_MAX_TRACKS,
    jobs: int = 1,
    csv: bool = False,
    max_frames: int | None = None,
    progress: bool = True,
    max_audio_tracks: int = DEFAULT_MAX_AUDIO_TRACKS,
    audio: bool = True,
    cache_dir: str | Path | None = None,
    media_roots: Sequence[str] = (),
    media_dirs: Sequence[str | Path] = (),
) -> IngestReport:
    """Write the frame table of every xmeml file under `inputs` to `out_path` (Parquet).

    Beside it: OUT.manifest.json, and OUT.csv when `csv`. A file that cannot be read is
    reported (stderr and manifest) and skipped; check `report.failed`. Audio: the first
    `max_audio_tracks` audio tracks, heard unless `audio` is False; `cache_dir` holds the
    analysed hops (None: the user cache folder); `media_roots` (`OLD=NEW`) and `media_dirs`
    find media (features/media.py). Missing media is counted in `report`, never an error.
    """
    started = time.perf_counter()
    options = AudioOptions(max_audio_tracks, audio, MediaFinder.of(media_roots, media_dirs))
    cache = HopCache(Path(cache_dir) if cache_dir is not None else None) if audio else None
    files = find_inputs(inputs)
    out_path = Path(out_path)
    report = IngestReport(out_path, manifest_path(out_path), out_path.with_suffix(".csv") if csv else None)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    targets = [path for path in (report.out_path, report.csv_path, report.manifest_path) if path]
    temporary = {path: _temporary_name(path) for path in targets}
    try:
        csv_temporary = temporary.get(report.csv_path) if report.csv_path is not None else None
        writer = FrameTableWriter(temporary[out_path], max_tracks, csv_temporary, max_audio_tracks)
        manifest = ManifestWriter(temporary[report.manifest_path], max_tracks, max_audio_tracks)
        bar = tqdm(total=len(files), unit="file", desc="ingest", disable=not progress, file=sys.stderr)
        limits_rows = flush_limits([_size_bytes(file) for file in files])
        with writer, manifest, bar:
            results = convert_files(files, max_tracks, max_frames, jobs, options)
            for result, limit_rows in zip(results, limits_rows, strict=True):
                if audio and not result.error:
                    for line in hear_file(result, report, cache, jobs):
                        bar.write(f"multitrack ingest: {line}", file=sys.stderr)
                _record(result, report, manifest, writer)
                writer.flush(min_rows=limit_rows)
                if result.error:
                    bar.write(f"multitrack ingest: skipped {result.error}", file=sys.stderr)
                bar.update(1)
            media = report.media_counts() if audio else None
            manifest.finish(report.files, report.failed, report.timelines, report.frames, media)
        report.write_s = writer.write_s
        for path in targets:  # the manifest last: its presence marks a finished run
            os.replace(temporary[path], path)
    finally:
        for path in temporary.values():
            path.unlink(missing_ok=True)
    report.total_s = time.perf_counter() - started
    return report


def flush_limits(sizes_bytes: Sequence[int]) -> list[int]:
    """Rows the writer may hold after each file before it writes them as a row group.

    ROWS_PER_BATCH, until the last TAIL_SHARE of the input bytes; then the limit shrinks
    with the bytes still to come, down to MIN_TAIL_ROWS. In --jobs 2 the parent encodes
    row groups while the workers convert, but a full one falling due as they finish is
    written with a core idle; smaller groups at the end shorten that tail
    (docs/decisions.md, "ingest: row groups shrink at the end"). Sizes, not timing,
    decide, so every --jobs writes the same row groups.
    """
    total_bytes = max(sum(sizes_bytes), 1)
    limits, waiting_bytes = [], sum(sizes_bytes)
    for size_bytes in sizes_bytes:
        waiting_bytes -= size_bytes
        share_left = waiting_bytes / total_bytes / TAIL_SHARE  # >= 1 before the tail
        limits.append(max(MIN_TAIL_ROWS, min(ROWS_PER_BATCH, int(ROWS_PER_BATCH * share_left))))
    return limits


def find_inputs(inputs: Sequence[str | Path]) -> list[InputFile]:
    """Files as given, folders expanded to every *.xml below them (sorted by relative path)."""
    found: list[InputFile] = []
    for raw in inputs:
        root = Path(raw)
        if root.is_dir():
            xml_files = [path for path in root.rglob("*") if path.suffix.lower() == ".xml" and path.is_file()]
            relatives = sorted((path.relative_to(root).as_posix(), path) for path in xml_files)
            found.extend(InputFile(path, relative) for relative, path in relatives)
        elif root.is_file():
            found.append(InputFile(root, root.name))
        else:
            raise MultitrackError(f"{raw}: input not found (expected an xmeml file or a folder)")
    return found


def listen(
    timeline: Timeline,
    xmeml_path: Path,
    audio: AudioOptions,
    cache: HopCache | None = None,
    jobs: int = 1,
) -> dict:
    """What ingest would record of one timeline's sound, without writing a table (`inspect`):
    its manifest entry, with `audio_tracks` (heard frames, speech share) and `assets` (media found)."""
    frames = timeline_frames(timeline, max_audio_tracks=audio.max_audio_tracks, source=str(xmeml_path))
    plan = find_media(frames, audio.finder, xmeml_path.parent) if audio.hear else None
    result = FileResult(InputFile(xmeml_path, xmeml_path.name), timelines=[timeline_columns(frames)])
    if plan is not None:
        result.plans = [plan]
        hear_file(result, IngestReport(xmeml_path, xmeml_path), cache, jobs)
    return result.timelines[0].entry


def convert_files(
    files: Sequence[InputFile],
    max_tracks: int,
    max_frames: int | None,
    jobs: int,
    audio: AudioOptions | None = None,
) -> Iterator[FileResult]:
    """Convert every file, yielding results in input order (a process pool when jobs > 1).

    At most IN_FLIGHT_PER_JOB × jobs files are converted ahead of the consumer, so a
    slow writer never makes finished results pile up in memory.
    """
    audio = audio or AudioOptions()
    tasks = [(file, max_tracks, max_frames, audio) for file in files]
    if jobs <= 1 or len(files) <= 1:
        yield from map(_convert_task, tasks)
        return
    waiting = collections.deque(task_chunks(tasks, [_size_bytes(file) for file in files], jobs))
    while waiting:
        suspects = yield from _convert_in_pool(waiting, jobs)
        # a worker died: the files it may have held are retried one per fresh worker, in order,
        # so only the file that kills its worker is reported, and the batch goes on
        for task in suspects:
            yield _convert_alone(task)


def task_chunks(tasks: list[tuple], sizes_bytes: list[int], jobs: int) -> list[list[tuple]]:
    """Split the tasks, in order, into the chunks pool workers convert one at a time.

    Each pool task costs the parent a round trip through the executor's threads and
    pipes (a tenth of its CPU in --jobs 2 at one file a task), so a chunk takes up
    to FILES_PER_TASK files; guided by size, it holds at most 1/(4 x jobs) of the
    bytes still waiting (at least one file), so a large file goes alone and the last
    files go one by one, and the workers finish together.
    """
    chunks, waiting_bytes, first = [], sum(sizes_bytes), 0
    while first < len(tasks):
        budget_bytes = waiting_bytes / (4 * jobs)
        stop, chunk_bytes = first + 1, sizes_bytes[first]
        while stop < len(tasks) and stop - first < FILES_PER_TASK and chunk_bytes + sizes_bytes[stop] <= budget_bytes:
            chunk_bytes += sizes_bytes[stop]
            stop += 1
        chunks.append(tasks[first:stop])
        waiting_bytes -= chunk_bytes
        first = stop
    return chunks


def _size_bytes(file: InputFile) -> int:
    try:
        return file.path.stat().st_size
    except OSError:
        return 0  # the worker reports why it cannot be read


def _convert_in_pool(waiting: collections.deque, jobs: int) -> Generator[FileResult, None, list[tuple]]:
    """Convert the chunks in `waiting` in a pool until it is empty (returns []) or a worker dies.

    A worker killed by the system (out of memory) or crashing in a C library breaks the
    pool; the tasks then in flight are returned. (multiprocessing.Pool waited forever.)
    """
    in_flight: collections.deque = collections.deque()  # (chunk, future)
    files_ahead = 0
    with ProcessPoolExecutor(max_workers=jobs, mp_context=_pool_context()) as pool:
        try:
            while waiting or in_flight:
                while waiting and files_ahead < IN_FLIGHT_PER_JOB * jobs:
                    chunk = waiting.popleft()
                    in_flight.append((chunk, pool.submit(_convert_chunk, chunk)))
                    files_ahead += len(chunk)
                    if not waiting:  # workers exit as they run dry, while the last results are written
                        pool.shutdown(wait=False)
                chunk, future = in_flight[0]
                results = future.result()
                in_flight.popleft()
                files_ahead -= len(chunk)
                yield from results
        except BrokenProcessPool:
            return [task for chunk, _ in in_flight for task in chunk]
    return []


Task = tuple[InputFile, int, int | None, AudioOptions]


def _convert_alone(task: Task) -> FileResult:
    with ProcessPoolExecutor(max_workers=1, mp_context=_pool_context()) as pool:
        try:
            return pool.submit(_convert_task, task).result()
        except BrokenProcessPool:
            file = task[0]
            return FileResult(
                file,
                error=_error_line(
                    file,
                    "the worker process converting it died (killed by the "
                    "system, e.g. out of memory, or crashed); skipped",
                ),
            )


def _pool_context():
    # fork starts workers in milliseconds and they inherit the imported modules; the
    # workers only parse and compute with numpy, never touching pyarrow's threads.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)


def _convert_chunk(tasks: list[Task]) -> list[FileResult]:
    return [_convert_task(task) for task in tasks]


def _convert_task(task: Task) -> FileResult:
    file, max_tracks, max_frames, audio = task
    return convert_file(file, max_tracks, max_frames, audio)


def convert_file(
    file: InputFile, max_tracks: int, max_frames: int | None = None, audio: AudioOptions | None = None
) -> FileResult:
    """Read, hash, parse and featurise one file, and find its heard media; any failure becomes `result.error`."""
    audio = audio or AudioOptions()
    result = FileResult(file)
    try:
        data = file.path.read_bytes()
        result.size_bytes = len(data)
        result.sha256 = hashlib.sha256(data).hexdigest()
        started = time.perf_counter()
        timelines = read_xmeml(file.path)
        parsed = time.perf_counter()
        result.parse_s = parsed - started
        for timeline in timelines:
            frames = timeline_frames(timeline, max_tracks, max_frames, str(file.path), audio.max_audio_tracks)
            if audio.hear:
                result.plans.append(find_media(frames, audio.finder, file.path.parent))
            result.timelines.append(timeline_columns(frames))
        result.features_s = time.perf_counter() - parsed
    except MultitrackError as exc:
        result.error = _error_line(file, str(exc))
    except OSError as exc:
        result.error = _error_line(file, f"cannot read: {exc.strerror or exc}")
    except Exception as exc:  # noqa: BLE001 - one bad file must never stop a batch
        result.error = _error_line(file, f"unexpected {type(exc).__name__}: {exc}")
    if result.error:
        result.timelines, result.plans = [], []
    return result


def _error_line(file: InputFile, message: str) -> str:
    """One line that names the file (errors from the reader name it already)."""
    line = " ".join(message.split())
    return line if str(file.path) in line else f"{file.path}: {line}"


def timeline_ids(file: InputFile, names: Sequence[str], used: set[str]) -> list[str]:
    """Ids per DESIGN.md §2: relative path without .xml, `#name` when several; unique in `used`."""
    base = file.relative[:-4] if file.relative.lower().endswith(".xml") else file.relative
    ids = []
    for name in names:
        candidate = f"{base}#{name}" if len(names) > 1 else base
        unique, copy = candidate, 2
        while unique in used:
            unique, copy = f"{candidate} ({copy})", copy + 1
        used.add(unique)
        ids.append(unique)
    return ids


def _record(result: FileResult, report: IngestReport, manifest: ManifestWriter, writer: FrameTableWriter) -> None:
    report.files += 1
    report.bytes_read += result.size_bytes
    report.parse_s += result.parse_s
    report.features_s += result.features_s
    if result.error:
        report.failed += 1
        report.errors.append(result.error)
        manifest.add_failure(result.input.relative, result.sha256, result.error)
        return
    ids = timeline_ids(result.input, [timeline.entry["name"] for timeline in result.timelines], manifest.used_ids)
    for timeline_id, timeline in zip(ids, result.timelines, strict=True):
        writer.write(timeline_id, timeline)
        report.timelines += 1
        report.frames += timeline.frame_count
    manifest.add_success(result.input.relative, result.sha256, [timeline.entry for timeline in result.timelines], ids)


def _temporary_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")
