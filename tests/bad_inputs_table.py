"""Each bad input of tests/bad_inputs.py through `multitrack ingest`: message, time, good files written.

    python tests/bad_inputs_table.py [--case NAME ...] [--workdir DIR]

A report over the test suite's own hostile inputs, so it lives beside them (Python puts
this folder on the path for a script run from it); pytest does not collect it.

For every case, two child processes under the tests' limits (60 s, 3 GiB address space):
the file alone (its message and wall-clock seconds) and the file in a batch with two
good files (were both good timelines written, whole?). A reference row ingests the two
good files alone, so the seconds read against the cost of starting the command. Prints
a Markdown table; paths in messages are shown relative to the case's folder.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bad_inputs import (
    CASES,
    CASES_BY_NAME,
    SECRET_MARKER,
    Case,
    Context,
    file_entry,
    read_outputs,
    recording_http_server,
    run_ingest,
    timeline_rows,
    write_case,
    write_good_files,
)


def run_alone(case: Case, folder: Path, context: Context) -> tuple[str, float, int]:
    """(message or 'ok' + warnings, seconds, exit status) of the case ingested alone."""
    path = write_case(case, folder / "in", context)
    started = time.perf_counter()
    result = run_ingest([path], folder / "out.parquet")
    seconds = time.perf_counter() - started
    manifest, _ = read_outputs(folder / "out.parquet")
    entry = file_entry(manifest, case.file_name)
    if entry["error"]:
        message = entry["error"].replace(f"{path.parent}/", "")
    else:
        warnings = [w for timeline in entry["timelines"] for w in timeline["warnings"]]
        message = "read" + (f"; warning: {'; '.join(warnings)}" if warnings else "")
    leaked = SECRET_MARKER in result.stdout + result.stderr + (folder / "out.manifest.json").read_text()
    return message + (" **(SECRET LEAKED)**" if leaked else ""), seconds, result.returncode


def run_in_batch(case: Case, folder: Path, context: Context) -> tuple[bool, int]:
    """(both good timelines written whole, exit status) with the case among two good files."""
    goods = write_good_files(folder / "in")
    write_case(case, folder / "in", context)
    result = run_ingest([folder / "in"], folder / "out.parquet")
    _, table = read_outputs(folder / "out.parquet")
    written = all(timeline_rows(table, good.timeline_id).num_rows == good.frames for good in goods)
    return written, result.returncode


def reference_seconds(folder: Path) -> float:
    write_good_files(folder / "in")
    started = time.perf_counter()
    run_ingest([folder / "in"], folder / "out.parquet")
    return time.perf_counter() - started


def markdown_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", choices=sorted(CASES_BY_NAME), help="only these cases")
    parser.add_argument("--workdir", type=Path, help="keep the files here (default: a temporary folder)")
    args = parser.parse_args()
    cases = [CASES_BY_NAME[name] for name in args.case] if args.case else list(CASES)
    with tempfile.TemporaryDirectory() as scratch, recording_http_server() as (url, requested):
        workdir = args.workdir or Path(scratch)
        secret = workdir / "secret.txt"
        workdir.mkdir(parents=True, exist_ok=True)
        secret.write_text(SECRET_MARKER)
        context = Context(secret_path=secret, url=url)
        reference = reference_seconds(workdir / "reference")
        print(
            "| case | bad input | message (`multitrack ingest`, file alone) | exit alone | seconds alone "
            "| exit in batch | good files written |"
        )
        print("|---|---|---|---|---|---|---|")
        print(f"| reference | two good files, no bad one | read | 0 | {reference:.2f} | 0 | yes |")
        for case in cases:
            message, seconds, alone_status = run_alone(case, workdir / case.name / "alone", context)
            written, batch_status = run_in_batch(case, workdir / case.name / "batch", context)
            print(
                f"| {case.name} | {markdown_cell(case.what)} | {markdown_cell(message)} | {alone_status} "
                f"| {seconds:.2f} | {batch_status} | {'yes' if written else '**NO**'} |"
            )
        print(f"\nHTTP requests received by the local server: {len(requested)}")


if __name__ == "__main__":
    main()
