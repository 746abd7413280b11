"""Jobs: CLI commands the app runs for the editor, recorded under WORKDIR/jobs/.

A job is a folder `jobs/<kind>-<time>/` holding `job.json` (its kind, title, the CLI steps,
the files it writes), `state.json` (written by `multitrack.serve.runner`, which runs the
steps) and `log.txt` (what the verbs printed). A job writes exactly what the same commands
typed in the workdir would write, so a run started in the browser resumes from the command
line and the other way round. One job of each kind runs at a time; because everything is in
the folder, a reloaded page or a restarted server finds a running job again. Cancel sends
SIGTERM to the runner, which passes it on, then SIGKILL to the whole job after a grace time.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from multitrack.errors import MultitrackError
from multitrack.serve.runner import GRACE_SECONDS, JOB_FILE, LOG_FILE, STATE_FILE, write_state
from multitrack.serve.workspace import JOBS_DIR

LOG_TAIL_BYTES = 64_000
STARTING_SECONDS = 30.0  # a runner that wrote no state.json by then is lost
_PERCENT = re.compile(r"(\d{1,3})%\|")  # a tqdm bar: " 45%|████▌     | 9/20"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # a progress bar's cursor moves
_ERROR = re.compile(r"^multitrack \w+: error: .*$", re.MULTILINE)  # the CLI's one-line error (cli.py)


class JobRefused(MultitrackError):
    """A job cannot start (one of its kind is running) or does not exist."""


@dataclass
class Job:
    id: str
    folder: Path
    spec: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.spec["kind"])

    def state(self) -> dict[str, Any]:
        try:
            return json.loads((self.folder / STATE_FILE).read_text())
        except (OSError, ValueError):
            return {"state": "starting", "step": 0, "returncodes": []}

    def log_tail(self) -> str:
        """The end of log.txt, each progress bar's line as its last redraw (after its last \\r)."""
        path = self.folder / LOG_FILE
        try:
            with open(path, "rb") as log:
                log.seek(max(0, path.stat().st_size - LOG_TAIL_BYTES))
                text = log.read().decode("utf-8", "replace")
        except OSError:
            return ""
        lines = (line.rsplit("\r", 1)[-1] for line in _ANSI.sub("", text).split("\n"))
        return "\n".join(line for line in lines if line.strip())

    def commands(self) -> list[str]:
        """The steps as a person would type them in the workdir."""
        return ["multitrack " + shlex.join(argv) for argv in self.spec["steps"]]


class JobManager:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.folder = workdir / JOBS_DIR
        self._lock = threading.Lock()
        self._children: dict[str, subprocess.Popen] = {}  # runners this server started, to reap them
        self._count = itertools.count()

    def start(self, kind: str, title: str, steps: list[list[str]], outputs: dict[str, str]) -> Job:
        with self._lock:
            running = self.latest(kind)
            if running is not None and self.is_running(running):
                raise JobRefused(f"a {kind} job is already running ({running.id}): wait for it or cancel it")
            job_id = f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid() % 1000:03d}{next(self._count):03d}"
            folder = self.folder / job_id
            folder.mkdir(parents=True)
            spec = {
                "id": job_id,
                "kind": kind,
                "title": title,
                "steps": steps,
                "outputs": outputs,
                "workdir": str(self.workdir),
                "created": time.time(),
            }
            (folder / JOB_FILE).write_text(json.dumps(spec, indent=1))
            with open(folder / LOG_FILE, "ab") as runner_errors:  # the runner's own crash, if any
                self._children[job_id] = subprocess.Popen(
                    [sys.executable, "-m", "multitrack.serve.runner", str(folder)],
                    cwd=self.workdir,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=runner_errors,
                    start_new_session=True,  # its own process group: it outlives the server, cancel kills it whole
                    env={**os.environ, "PYTHONPATH": _package_path()},
                )
            return Job(job_id, folder, spec)

    def get(self, job_id: str) -> Job:
        if not re.fullmatch(r"[a-z]+-[0-9-]+", job_id):
            raise JobRefused(f"{job_id}: no such job")
        folder = self.folder / job_id
        try:
            spec = json.loads((folder / JOB_FILE).read_text())
        except (OSError, ValueError) as exc:
            raise JobRefused(f"{job_id}: no such job") from exc
        return Job(job_id, folder, spec)

    def latest(self, kind: str) -> Job | None:
        """The newest job of a kind (running or not), by its folder name's time."""
        names = sorted(p.name for p in self.folder.glob(f"{kind}-*") if (p / JOB_FILE).is_file())
        return self.get(names[-1]) if names else None

    def is_running(self, job: Job) -> bool:
        child = self._children.get(job.id)
        if child is not None:  # a runner this server started: its exit status (poll reaps it)
            if child.poll() is None:
                return True
            del self._children[job.id]
            return False
        state = job.state()
        if state["state"] not in ("starting", "running"):
            return False
        if state["state"] == "starting":  # no state.json yet: the runner is starting, unless that was long ago
            return time.time() - float(job.spec["created"]) < STARTING_SECONDS
        return _alive(state.get("pid"), job.folder)

    def cancel(self, job: Job) -> None:
        """SIGTERM to the runner (it passes it to the verb), SIGKILL to the job's group after the grace time."""
        deadline = time.monotonic() + 5.0
        while "pid" not in job.state() and self.is_running(job) and time.monotonic() < deadline:
            time.sleep(0.05)  # the runner is starting: it records its pid first thing
        pid = job.state().get("pid")
        if not self.is_running(job) or not pid:
            raise JobRefused(f"{job.id} is not running")
        os.kill(pid, signal.SIGTERM)
        threading.Thread(target=self._kill_after_grace, args=(job, pid), daemon=True).start()

    def _kill_after_grace(self, job: Job, pid: int) -> None:
        deadline = time.monotonic() + GRACE_SECONDS + 2.0
        while time.monotonic() < deadline:
            if not self.is_running(job):
                return
            time.sleep(0.2)
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        state = job.state() | {"state": "cancelled", "ended": time.time()}
        write_state(job.folder, state)
        self.is_running(job)  # reaps the runner

    def view(self, job: Job, progress: dict[str, Any] | None = None) -> dict[str, Any]:
        """What the page shows: state, step, progress, the CLI's one-line error, the log's end."""
        state = job.state()
        running = self.is_running(job)
        if state["state"] in ("starting", "running") and not running:
            state["state"], state["lost"] = "failed", True
        log = job.log_tail()
        steps = len(job.spec["steps"])
        percents = _PERCENT.findall(log.rsplit("$ multitrack ", 1)[-1])
        view = {
            "id": job.id,
            "kind": job.kind,
            "title": job.spec["title"],
            "state": state["state"],
            "running": running,
            "step": state.get("step", 0),
            "steps": steps,
            "step_percent": int(percents[-1]) if percents else None,
            "commands": job.commands(),
            "outputs": job.spec["outputs"],
            "started": state.get("started"),
            "ended": state.get("ended"),
            "error": _error_line(log, state),
            "log": "\n".join(log.splitlines()[-40:]),
        }
        if progress:
            view.update(progress)
        return view


def _error_line(log: str, state: dict[str, Any]) -> str | None:
    if state["state"] != "failed":
        return None
    if state.get("lost"):
        return "the job's process ended without recording how (killed, or the machine restarted)"
    found = _ERROR.findall(log)
    if found:
        return found[-1]
    lines = [line for line in log.splitlines() if line.strip()]
    return lines[-1] if lines else "the job failed without a message"


def _alive(pid: Any, folder: Path) -> bool:
    """Is `pid` still this job's runner (a reused pid runs something else)?"""
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        try:
            return str(folder).encode() in cmdline.read_bytes()
        except OSError:
            return False
    return True


def _package_path() -> str:
    """PYTHONPATH for the runner: this package's own source first, so it runs the same code as the server."""
    source = str(Path(__file__).resolve().parents[2])
    return os.pathsep.join([source, *filter(None, [os.environ.get("PYTHONPATH")])])
