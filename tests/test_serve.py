"""`multitrack serve` through the ASGI test client: the guard, the workdir's walls, uploads,
pictures, pages and jobs (real subprocesses running the CLI)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from multitrack.serve.app import create_app
from multitrack.serve.guard import allowed_hosts, cookie_name
from multitrack.serve.jobs import JobManager
from multitrack.serve.runner import STATE_FILE
from multitrack.timeline.xmeml import read_xmeml
from xmemlgen import clipitem, document, file_def, motion, param, point, sequence, track

PORT = 8765
TOKEN = "t" * 24
BASE = f"http://127.0.0.1:{PORT}"


def two_track_xml(name: str = "interview") -> str:
    wide = clipitem(0, 50, 0, file=file_def("file-1", name="wide.mov", width=1920, height=1080), name="wide.mov")
    close = clipitem(
        50,
        100,
        0,
        file=file_def("file-2", name="close.mov", width=3840, height=2160),
        name="close.mov",
        filters=motion(param("scale", 60), param("center", point(0.1, -0.05))),
    )
    return document(sequence(track(wide, close), track(clipitem(20, 40, 0, file="<file id='file-1'/>")), name=name))


def make_client(workdir: Path, upload_limit_bytes: int = 1024 * 1024, token: bool = True) -> TestClient:
    app = create_app(workdir, TOKEN, allowed_hosts("127.0.0.1", PORT), PORT, upload_limit_bytes)
    client = TestClient(app, base_url=BASE, follow_redirects=False)
    if token:
        client.headers["X-Multitrack-Token"] = TOKEN
    return client


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    root = tmp_path / "work"
    (root / "corpus").mkdir(parents=True)
    (root / "corpus" / "interview.xml").write_text(two_track_xml())
    (tmp_path / "secret.xml").write_text(two_track_xml("secret"))
    return root


# --- the guard ---------------------------------------------------------------------------------


def test_a_request_without_the_token_is_refused_and_the_printed_url_sets_a_cookie(workdir):
    client = make_client(workdir, token=False)
    refused = client.get("/timelines")
    assert refused.status_code == 403 and "missing or wrong token" in refused.text
    assert client.get("/timelines", headers={"X-Multitrack-Token": "x" * 24}).status_code == 403
    assert client.get("/timelines?token=wrong").status_code == 403

    first = client.get(f"/timelines?token={TOKEN}&folder=corpus")
    assert first.status_code == 303 and first.headers["location"] == "/timelines?folder=corpus"
    assert f"{cookie_name(PORT)}={TOKEN}" in first.headers["set-cookie"]
    assert "HttpOnly" in first.headers["set-cookie"] and "SameSite=Strict" in first.headers["set-cookie"]
    client.cookies.set(cookie_name(PORT), TOKEN)
    page = client.get("/timelines")
    assert page.status_code == 200 and "corpus/interview.xml" in page.text


@pytest.mark.parametrize("host", ["evil.example:8765", "127.0.0.1:9999", "localhost", "192.168.1.5:8765", ""])
def test_a_wrong_host_is_refused_even_with_the_token(workdir, host):
    response = make_client(workdir).get("/timelines", headers={"Host": host})
    assert response.status_code == 403 and "wrong Host" in response.text


def test_localhost_is_the_same_server(workdir):
    assert make_client(workdir).get("/timelines", headers={"Host": f"localhost:{PORT}"}).status_code == 200


def test_another_origin_cannot_post_or_read(workdir):
    client = make_client(workdir)
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
        response = client.post("/api/jobs/ingest", json={"input": "corpus"}, headers=headers)
        assert response.status_code == 403 and "refused" in response.text
    assert client.get("/api/picture?path=corpus/interview.xml", headers={"Origin": BASE}).status_code == 200
    assert not (workdir / "jobs").exists()  # nothing was started


def test_any_other_address_needs_a_token(tmp_path, capsys):
    from multitrack.cli import main

    assert main(["serve", "--workdir", str(tmp_path), "--host", "0.0.0.0"]) == 1
    assert "give --token" in capsys.readouterr().err
    assert main(["serve", "--workdir", str(tmp_path), "--host", "0.0.0.0", "--token", "short"]) == 1
    assert "at least 16" in capsys.readouterr().err


# --- the workdir's walls -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "../secret.xml",
        "corpus/../../secret.xml",
        "/etc/passwd",
        "%2e%2e/secret.xml",
        "..%2fsecret.xml",
        "..\\secret.xml",
    ],
)
def test_nothing_outside_the_workdir_can_be_read(workdir, path):
    client = make_client(workdir)
    for url in (f"/api/picture?path={path}", f"/files/{path}"):
        response = client.get(url)
        assert response.status_code in (403, 404), (url, response.text)
        assert "<xmeml" not in response.text and "Traceback" not in response.text, response.text


def test_a_symbolic_link_out_of_the_workdir_is_refused(workdir):
    (workdir / "link.xml").symlink_to(workdir.parent / "secret.xml")
    (workdir / "outside").symlink_to(workdir.parent, target_is_directory=True)
    client = make_client(workdir)
    for url in ("/api/picture?path=link.xml", "/files/link.xml", "/files/outside/secret.xml"):
        response = client.get(url)
        assert response.status_code == 403 and "outside the workdir" in response.json()["error"], url


def test_a_job_form_naming_a_path_outside_is_refused(workdir):
    client = make_client(workdir)
    for plan, form in (
        ("ingest", {"input": "../"}),
        ("train", {"table": "../secret.parquet"}),
        ("train", {"table": "corpus/interview.xml", "preset": "/etc/hostname"}),
        ("generate", {"bundle": "..", "prompt": "corpus/interview.xml"}),
    ):
        response = client.post(f"/api/jobs/{plan}", json=form)
        assert response.status_code == 403, (plan, form, response.text)
    assert not (workdir / "jobs").exists()


def test_files_inside_download_and_open_in_a_sandbox(workdir):
    (workdir / "report.html").write_text("<script>fetch('/api/jobs/ingest', {method: 'POST'})</script>")
    client = make_client(workdir)
    response = client.get("/files/corpus/interview.xml")
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    assert response.content == (workdir / "corpus" / "interview.xml").read_bytes()
    shown = client.get("/files/report.html")
    assert shown.status_code == 200 and "attachment" not in shown.headers.get("content-disposition", "")
    assert shown.headers["content-security-policy"] == "sandbox"  # its script cannot use the app's cookie


# --- uploads and pictures ----------------------------------------------------------------------


def test_an_uploaded_file_is_read_and_drawn_like_inspect_reads_it(workdir):
    client = make_client(workdir)
    data = two_track_xml("uploaded").encode()
    response = client.post("/api/upload", files={"file": ("Sequence 01.xml", data, "text/xml")})
    assert response.status_code == 200, response.text
    [result] = response.json()["files"]
    assert result == {"name": "Sequence 01.xml", "path": "uploads/Sequence 01.xml", "timelines": 1}
    assert (workdir / "uploads" / "Sequence 01.xml").read_bytes() == data

    [picture] = client.get("/api/picture", params={"path": result["path"]}).json()["timelines"]
    [timeline] = read_xmeml(workdir / "uploads" / "Sequence 01.xml")
    assert picture["name"] == "uploaded" and len(picture["tracks"]) == len(timeline.video_tracks) == 2
    columns = picture["columns"]
    rows = [dict(zip(columns, row, strict=True)) for row in picture["tracks"][0]["clips"]]
    assert [(r["start"], r["end"]) for r in rows] == [
        (c.start_frame, c.end_frame) for c in timeline.video_tracks[0].clips
    ]
    assert rows[0]["asset"] != rows[1]["asset"] and rows[1]["scale"] == 60 and rows[1]["center_x"] == 0.1
    assert picture["tracks"][1]["clips"][0][columns.index("asset")] == rows[0]["asset"]  # the same file, one colour
    assert picture["summary"].startswith("timeline 'uploaded'")


def test_a_bad_upload_shows_one_line_naming_it_and_is_not_kept(workdir):
    client = make_client(workdir)
    files = [
        ("file", ("broken.xml", b"<xmeml version='4'><sequence>", "text/xml")),
        ("file", ("notes.txt", b"hi", "x")),
    ]
    files.append(("file", ("good.xml", two_track_xml().encode(), "text/xml")))
    results = client.post("/api/upload", files=files).json()["files"]
    assert results[0]["name"] == "broken.xml" and results[0]["error"].startswith("broken.xml:")
    assert "\n" not in results[0]["error"] and str(workdir) not in results[0]["error"]
    assert "expected an .xml file" in results[1]["error"]
    assert results[2]["path"] == "uploads/good.xml"
    assert sorted(p.name for p in (workdir / "uploads").iterdir()) == ["good.xml"]


def test_an_upload_over_the_limit_is_refused(workdir):
    client = make_client(workdir, upload_limit_bytes=2000)
    big = two_track_xml().encode() + b"<!--" + b"x" * 5000 + b"-->"
    response = client.post("/api/upload", files={"file": ("big.xml", big, "text/xml")})
    assert response.status_code in (400, 413) and "error" in response.json()
    assert not (workdir / "uploads" / "big.xml").exists()


def test_a_picture_of_a_bad_file_is_one_line(workdir):
    (workdir / "bad.xml").write_text("<xmeml><project/></xmeml>")
    response = make_client(workdir).get("/api/picture?path=bad.xml")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error.startswith("bad.xml:") and "\n" not in error and "Traceback" not in error


# --- pages -------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["timelines", "train", "models", "continue", "attention"])
def test_every_page_renders_in_an_empty_and_a_filled_workdir(tmp_path, workdir, page):
    for root in (tmp_path / "empty", workdir):
        root.mkdir(exist_ok=True)
        response = make_client(root).get(f"/{page}")
        assert response.status_code == 200, response.text
        assert 'aria-current="page"' in response.text and "/static/app.js" in response.text


def test_static_files_come_from_the_package(workdir):
    client = make_client(workdir)
    for name in ("app.js", "timeline.js", "style.css"):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and len(response.content) > 500
    page = client.get("/timelines").text
    assert "http://" not in page and "https://" not in page  # nothing fetched from elsewhere


# --- jobs --------------------------------------------------------------------------------------


def wait_for(client: TestClient, job_id: str, timeout_s: float = 90) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        view = client.get(f"/api/job/{job_id}").json()
        if not view["running"]:
            return view
        time.sleep(0.3)
    raise AssertionError(f"{job_id} still running after {timeout_s} s: {view}")


def test_an_ingest_job_writes_what_the_cli_writes(workdir):
    client = make_client(workdir)
    started = client.post("/api/jobs/ingest", json={"input": "corpus", "name": "mine"})
    assert started.status_code == 200, started.text
    view = wait_for(client, started.json()["id"])
    assert view["state"] == "done", view
    assert view["commands"] == ["multitrack ingest corpus -o tables/mine.parquet --no-progress"]
    manifest = json.loads((workdir / "tables" / "mine.manifest.json").read_text())
    assert manifest["summary"]["timelines"] == 1 and manifest["summary"]["failed"] == 0
    assert "ingested 1/1 files" in view["log"]
    page = client.get("/timelines").text
    assert "tables/mine.parquet" in page
    again = client.post("/api/jobs/ingest", json={"input": "corpus", "name": "mine"})
    assert again.status_code == 400 and "exists" in again.json()["error"]


def test_a_failing_job_shows_the_cli_one_line_error(workdir):
    client = make_client(workdir)
    (workdir / "notabundle").mkdir()
    started = client.post("/api/jobs/generate", json={"bundle": "notabundle", "prompt": "corpus/interview.xml"})
    view = wait_for(client, started.json()["id"])
    assert view["state"] == "failed"
    assert view["error"].startswith("multitrack generate: error: ") and "notabundle" in view["error"]
    assert "Traceback" not in view["error"]


def test_an_attention_job_draws_what_the_cli_draws_and_the_page_knows_the_models_rate(workdir):
    from test_generate import make_bundle, write_prompt  # a 2-track bundle, window 16; a 120-frame prompt

    make_bundle(workdir / "bundle", ["data.fps=12.5"])
    write_prompt(workdir / "corpus" / "prompt.xml")
    client = make_client(workdir)
    page = client.get("/attention").text
    assert 'value="bundle" data-fps="12.5"' in page  # a click on the picture counts frames at 12.5 fps
    refused = client.post("/api/jobs/attention", json={"bundle": "bundle", "timeline": "corpus/prompt.xml"})
    assert refused.status_code == 400 and "frame: expected a whole number" in refused.json()["error"]
    form = {"bundle": "bundle", "timeline": "corpus/prompt.xml", "frame": "20", "heads": "1"}
    view = wait_for(client, client.post("/api/jobs/attention", json=form).json()["id"])
    assert view["state"] == "done", view
    picture = view["outputs"]["picture"]
    assert picture.startswith("attention/prompt frame 20 ") and picture.endswith(".png")
    command = f"multitrack attention bundle --timeline corpus/prompt.xml --frame 20 --heads -o '{picture}'"
    assert view["commands"] == [command]
    assert (workdir / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a frame past the timeline's end is the verb's one-line error
    late = {**form, "frame": "500"}
    failed = wait_for(client, client.post("/api/jobs/attention", json=late).json()["id"])
    assert failed["state"] == "failed" and failed["error"].startswith("multitrack attention: error: ")


def test_the_train_form_is_checked_by_the_config(workdir):
    client = make_client(workdir)
    (workdir / "t.parquet").write_bytes(b"")
    for form, expected in (
        ({"table": "t.parquet", "model.d_model": "wide"}, "model.d_model"),
        ({"table": "t.parquet", "more": "trainer.no_such_key=1"}, "no_such_key"),
        ({"table": "t.parquet", "more": "just words"}, "expected KEY=VALUE"),
        ({"table": "t.parquet", "name": "../escape"}, "letters, digits"),
    ):
        response = client.post("/api/jobs/train", json=form)
        assert response.status_code == 400 and expected in response.json()["error"], (form, response.text)


def start_slow_job(client: TestClient) -> str:
    """A generate job on an empty bundle folder: it runs while torch imports, a few seconds."""
    (client.app.app.state.settings.workspace.root / "slow").mkdir(exist_ok=True)
    started = client.post("/api/jobs/generate", json={"bundle": "slow", "prompt": "corpus/interview.xml"})
    assert started.status_code == 200, started.text
    return started.json()["id"]


def runner_pid(workdir: Path, job_id: str) -> int:
    """The runner's pid, once it has written its state.json."""
    state_file = workdir / "jobs" / job_id / STATE_FILE
    deadline = time.monotonic() + 10
    while not state_file.exists():
        assert time.monotonic() < deadline, f"{job_id}: no {STATE_FILE} after 10 s"
        time.sleep(0.05)
    return int(json.loads(state_file.read_text())["pid"])


def test_one_job_of_a_kind_at_a_time_and_cancel_stops_it(workdir):
    client = make_client(workdir)
    job_id = start_slow_job(client)
    second = client.post("/api/jobs/generate", json={"bundle": "slow", "prompt": "corpus/interview.xml"})
    assert second.status_code == 409 and "already running" in second.json()["error"]
    pid = runner_pid(workdir, job_id)
    assert client.post(f"/api/job/{job_id}/cancel").status_code == 200
    view = wait_for(client, job_id, timeout_s=20)
    assert view["state"] == "cancelled"
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # the runner's whole group is gone: the verb too
    assert client.post(f"/api/job/{job_id}/cancel").status_code == 409


def test_a_restarted_server_reattaches_to_a_running_job(workdir):
    first = make_client(workdir)
    job_id = start_slow_job(first)
    second = make_client(workdir)  # a new app on the same workdir: what a restarted server builds
    latest = second.get("/api/jobs/generate/latest").json()
    assert latest["id"] == job_id and latest["running"] is True
    again = second.post("/api/jobs/generate", json={"bundle": "slow", "prompt": "corpus/interview.xml"})
    assert again.status_code == 409  # the restarted server knows it runs
    assert second.post(f"/api/job/{job_id}/cancel").status_code == 200
    assert wait_for(second, job_id, timeout_s=20)["state"] == "cancelled"


def test_a_job_whose_process_vanished_is_reported_failed(workdir):
    client = make_client(workdir)
    job_id = start_slow_job(client)
    pid = runner_pid(workdir, job_id)
    os.killpg(pid, signal.SIGKILL)  # no state written: as if the machine had stopped
    view = wait_for(client, job_id, timeout_s=10)
    assert view["state"] == "failed" and "ended without recording" in view["error"]
    assert JobManager(workdir).latest("generate").id == job_id


def test_resume_runs_train_resume_last_on_the_run_then_evaluates(workdir):
    from multitrack.errors import MultitrackError
    from multitrack.serve.verbs import plan_resume
    from multitrack.serve.workspace import Workspace

    workspace = Workspace(workdir)
    (workdir / "runs" / "a" / "checkpoints").mkdir(parents=True)
    (workdir / "prepared" / "a").mkdir(parents=True)
    with pytest.raises(MultitrackError, match="no checkpoints/last.ckpt"):
        plan_resume({"run": "runs/a", "prepared": "prepared/a"}, workspace)
    (workdir / "runs" / "a" / "checkpoints" / "last.ckpt").write_bytes(b"")
    plan = plan_resume({"run": "runs/a", "prepared": "prepared/a"}, workspace)
    assert plan.steps == [
        ["train", "--data", "prepared/a", "--run-dir", "runs/a", "--resume", "last"],
        ["evaluate", "runs/a/bundle", "--data", "prepared/a", "-o", "runs/a/evaluation"],
    ]


def test_train_progress_reads_every_logged_version(tmp_path):
    from multitrack.config import load_config, save_config
    from multitrack.serve.verbs import train_progress

    save_config(load_config(None, ["trainer.max_epochs=5"]), tmp_path / "config.yaml")
    header = "epoch,step,train/loss,val/loss,train/loss_step"
    logs = {0: [header, "0,9,,0.9,", "0,9,1.5,,", "1,19,,0.8,", "1,19,1.2,,"], 1: [header, "1,19,,0.7,", "2,29,,0.6,"]}
    for version, lines in logs.items():
        (tmp_path / "logs" / f"version_{version}").mkdir(parents=True)
        (tmp_path / "logs" / f"version_{version}" / "metrics.csv").write_text("\n".join(lines) + "\n")
    progress = train_progress(tmp_path)
    assert progress["max_epochs"] == 5 and progress["epoch"] == 3
    assert progress["curve"] == [
        {"epoch": 1, "val": 0.9, "train": 1.5},
        {"epoch": 2, "val": 0.7, "train": 1.2},  # the resumed run's value of epoch 2 wins
        {"epoch": 3, "val": 0.6},
    ]
