"""`python -m multitrack.serve.runner JOB_DIR`: run one job's CLI commands, one after another.

The app starts this in a session of its own, so it outlives the server: a restarted server
finds the job by its folder and reattaches. Each step is `python -m multitrack VERB ...`
run in the workdir, its output appended to JOB_DIR/log.txt; JOB_DIR/state.json says which
step runs and how each ended. SIGTERM (cancel) is passed to the running verb, which gets
`GRACE_SECONDS` to stop before it is killed; the remaining steps are not started.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

GRACE_SECONDS = 5.0
JOB_FILE = "job.json"
STATE_FILE = "state.json"
LOG_FILE = "log.txt"


def write_state(job_dir: Path, state: dict[str, Any]) -> None:
    """state.json, replaced atomically so a reader never sees half of it."""
    temporary = job_dir / f".{STATE_FILE}.{os.getpid()}"
    temporary.write_text(json.dumps(state))
    os.replace(temporary, job_dir / STATE_FILE)


def run_job(job_dir: Path) -> int:
    job = json.loads((job_dir / JOB_FILE).read_text())
    state: dict[str, Any] = {"pid": os.getpid(), "state": "running", "step": 0, "returncodes": []}
    state["started"] = time.time()
    cancelled = False
    child: subprocess.Popen | None = None

    def on_term(signum: int, frame: object) -> None:
        nonlocal cancelled
        cancelled = True
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_term)
    write_state(job_dir, state)
    with open(job_dir / LOG_FILE, "ab", buffering=0) as log:
        for number, argv in enumerate(job["steps"]):
            if cancelled:
                break
            state["step"] = number
            write_state(job_dir, state)
            log.write(f"$ multitrack {' '.join(argv)}\n".encode())
            environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
            child = subprocess.Popen(
                [sys.executable, "-m", "multitrack", *argv],
                cwd=job["workdir"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=environment,
            )
            returncode = _wait(child, lambda: cancelled)
            state["returncodes"].append(returncode)
            if returncode != 0 and not cancelled:
                break
    state["ended"] = time.time()
    failed = any(code != 0 for code in state["returncodes"])
    state["state"] = "cancelled" if cancelled else "failed" if failed else "done"
    write_state(job_dir, state)
    return 0


def _wait(child: subprocess.Popen, cancelled) -> int:
    """The child's exit status; once cancelled, it is killed after GRACE_SECONDS."""
    deadline = None
    while True:
        try:
            return child.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            pass
        if cancelled():
            deadline = deadline or time.monotonic() + GRACE_SECONDS
            if time.monotonic() > deadline:
                child.kill()


if __name__ == "__main__":
    sys.exit(run_job(Path(sys.argv[1])))
