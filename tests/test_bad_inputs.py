"""Hostile and broken xmeml through `multitrack ingest`, in a child process under time and memory limits.

Each case of tests/bad_inputs.py is ingested alone and, all together, inside one batch
with two good files: a bad file gives a one-line error naming the file and its specific
reason (stderr and manifest) and the batch still writes the good timelines; a usable file
gives exit 0 and the table it must. Nothing is expanded, read from disk or fetched because
a file asked: the secret marker never appears in any output, the local server is never called.
"""

from __future__ import annotations

import os
import signal

import pytest

from bad_inputs import (
    CASES,
    SECRET_MARKER,
    Context,
    file_entry,
    message_pattern,
    read_outputs,
    recording_http_server,
    run_ingest,
    timeline_rows,
    write_case,
    write_good_files,
)
from multitrack.features import ingest as ingest_module

ERROR_CASES = [case for case in CASES if not case.usable]


@pytest.fixture(scope="module")
def http_requests():
    with recording_http_server() as server:
        yield server


@pytest.fixture(scope="module")
def context(tmp_path_factory, http_requests) -> Context:
    secret = tmp_path_factory.mktemp("secret") / "secret.txt"
    secret.write_text(SECRET_MARKER)
    return Context(secret_path=secret, url=http_requests[0])


def _assert_nothing_leaked(result, out_path, http_requests) -> None:
    outputs = [result.stdout, result.stderr, out_path.with_suffix(".manifest.json").read_text(encoding="utf-8")]
    _, table = read_outputs(out_path)
    outputs.extend(table.column("timeline").unique().to_pylist())
    assert not [text for text in outputs if SECRET_MARKER in text or "LEAKED" in text]
    assert http_requests[1] == []
    assert not [p.name for p in out_path.parent.iterdir() if p.name.startswith(".")]  # no temporary files


def _skipped_lines(stderr: str) -> list[str]:
    return [
        line.removeprefix("multitrack ingest: skipped ")
        for line in stderr.splitlines()
        if line.startswith("multitrack ingest: skipped ")
    ]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_alone(case, context, http_requests, tmp_path):
    path = write_case(case, tmp_path / "in", context)
    out_path = tmp_path / "out" / "frames.parquet"
    result = run_ingest([path], out_path)
    manifest, table = read_outputs(out_path)
    [entry] = manifest["files"]
    if case.usable:
        assert result.returncode == 0, result.stderr
        assert entry["error"] is None and _skipped_lines(result.stderr) == []
        case.check_table(table, entry)
    else:
        assert result.returncode == 1, result.stderr
        assert message_pattern(case, path).fullmatch(entry["error"]), entry["error"]
        assert _skipped_lines(result.stderr) == [entry["error"]]  # the same one line on stderr
        assert table.num_rows == 0 and manifest["summary"]["failed"] == 1
    _assert_nothing_leaked(result, out_path, http_requests)


def test_all_in_one_batch_with_good_files(context, http_requests, tmp_path):
    folder = tmp_path / "batch"
    goods = write_good_files(folder)
    for case in CASES:
        write_case(case, folder, context)
    out_path = tmp_path / "out" / "frames.parquet"
    result = run_ingest([folder], out_path, "--jobs", "2")
    assert result.returncode == 1, result.stderr
    manifest, table = read_outputs(out_path)
    for good in goods:  # the good files are written whole
        assert timeline_rows(table, good.timeline_id).column("frame").to_pylist() == list(range(good.frames))
    for case in CASES:
        entry = file_entry(manifest, case.file_name)
        if case.usable:
            assert entry["error"] is None, entry["error"]
            case.check_table(timeline_rows(table, case.name), entry)
        else:
            assert message_pattern(case, folder / case.file_name).fullmatch(entry["error"]), entry["error"]
    written = {good.timeline_id for good in goods} | {case.name for case in CASES if case.usable}
    assert set(table.column("timeline").unique().to_pylist()) == written
    assert _skipped_lines(result.stderr) == [
        file_entry(manifest, case.file_name)["error"] for case in sorted(ERROR_CASES, key=lambda c: c.file_name)
    ]
    assert manifest["summary"]["failed"] == len(ERROR_CASES)
    _assert_nothing_leaked(result, out_path, http_requests)


def test_a_file_that_kills_its_worker_is_reported_and_the_batch_goes_on(tmp_path, monkeypatch):
    """A worker the system kills (out of memory) must not hang `--jobs` nor take other files with it."""
    folder = tmp_path / "batch"
    goods = write_good_files(folder)
    (folder / "killer.xml").write_text("<xmeml/>")
    real_convert = ingest_module.convert_file

    def dies_on_the_killer(file, *args):
        if file.path.name == "killer.xml":
            os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's OOM killer would
        return real_convert(file, *args)

    monkeypatch.setattr(ingest_module, "convert_file", dies_on_the_killer)  # forked workers inherit it
    report = ingest_module.ingest([folder], tmp_path / "frames.parquet", jobs=2, progress=False)
    assert report.errors == [
        f"{folder / 'killer.xml'}: the worker process converting it died (killed by the "
        f"system, e.g. out of memory, or crashed); skipped"
    ]
    manifest, table = read_outputs(tmp_path / "frames.parquet")
    assert [entry["path"] for entry in manifest["files"]] == ["good_a.xml", "good_b.xml", "killer.xml"]
    for good in goods:
        assert timeline_rows(table, good.timeline_id).num_rows == good.frames
