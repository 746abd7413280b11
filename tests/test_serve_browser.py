"""`multitrack serve` in a real browser: Debian's Chromium driven by Playwright.

One server (`python -m multitrack serve`, a real process on a free port) over a workdir
holding a tiny synthetic corpus and configs/tiny.yaml. The browser uploads a real export and
sees its tracks drawn, shows a bad file's error and stays usable, ingests, trains a tiny model
and watches it finish, continues a timeline and downloads an xmeml that reads back, picks a
frame on a picture and sees the model's attention there; a
traversal, a wrong Host and a missing token are refused.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from multitrack.timeline.xmeml import read_xmeml

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[1]
HELAFTEN = "nrk/Helaften_del-1-MASTER-v3.xml"  # the largest real export: 8 video tracks, ~500 clips
JOB_TIMEOUT_MS = 180_000


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright's launch arguments: the system's Chromium, nothing downloaded."""
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {CHROMIUM} is missing (.ci/run installs it with apt-get)")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS, "headless": True}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(url with token, base url, workdir) of a live `multitrack serve`."""
    from multitrack.synth import synth_corpus

    workdir = tmp_path_factory.mktemp("serve") / "work"
    synth_corpus(workdir / "corpus", 8, 0, 2, 8.0, 12.0)
    (workdir / "configs").mkdir()
    shutil.copy(ROOT / "configs" / "tiny.yaml", workdir / "configs" / "tiny.yaml")
    port = free_port()
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "multitrack", "serve", "--workdir", str(workdir), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    assert " at http://127.0.0.1:" in first, first
    url = first.split(" at ", 1)[1].split()[0]
    _wait_until_listening(port)
    yield url, f"http://127.0.0.1:{port}", workdir
    process.terminate()
    process.wait(timeout=10)


def _wait_until_listening(port: int) -> None:
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"multitrack serve did not listen on {port}")


@pytest.fixture
def app(page, server):
    """A page that opened the printed URL (its token became a cookie)."""
    url, base, _ = server
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(url)
    yield page, base
    assert not errors, errors  # no script error on any page


def coloured_pixels_per_row(page, selector: str) -> list[int]:
    """Per track row of the picture (V1 first), the pixels right of the labels that a clip painted."""
    return page.eval_on_selector(
        selector,
        """canvas => {
            const g = canvas.getContext('2d');
            const ratio = canvas.width / canvas.clientWidth;
            const ruler = +canvas.dataset.rulerPx, row = +canvas.dataset.rowPx, label = +canvas.dataset.labelPx;
            const tracks = +canvas.dataset.tracks, counts = [];
            for (let t = 0; t < tracks; t++) {
                const y = ruler + row * (tracks - 1 - t) + row / 2;
                const line = g.getImageData(label * ratio, y * ratio, canvas.width - label * ratio, 1).data;
                let n = 0;
                for (let i = 0; i < line.length; i += 4) if (Math.max(line[i], line[i + 1], line[i + 2]) > 90) n++;
                counts.push(n);
            }
            return counts;
        }""",
    )


def test_a_real_export_uploads_and_its_tracks_are_drawn(app, real_corpus):
    page, _ = app
    source = real_corpus / HELAFTEN
    [timeline] = read_xmeml(source)
    page.set_input_files("#upload input[type=file]", str(source))
    canvas = page.wait_for_selector(f"#picture[data-path='uploads/{source.name}'][data-ready='1'] canvas[data-draws]")
    assert int(canvas.get_attribute("data-tracks")) == len(timeline.video_tracks) == 8
    assert int(canvas.get_attribute("data-clips")) == sum(len(track.clips) for track in timeline.video_tracks)
    painted = coloured_pixels_per_row(page, "#picture canvas")
    for number, (track, pixels) in enumerate(zip(timeline.video_tracks, painted, strict=True), start=1):
        assert (pixels > 0) == bool(track.clips), f"V{number}: {len(track.clips)} clips, {pixels} pixels painted"
    assert page.input_value("#timeline-select") == f"uploads/{source.name}"

    # hover the middle of V1's first clip: the tip names it and says where it is
    first = min(timeline.video_tracks[0].clips, key=lambda clip: clip.start_frame)
    box = canvas.bounding_box()
    ruler, row, label = (int(canvas.get_attribute(f"data-{k}-px")) for k in ("ruler", "row", "label"))
    x = label + (first.start_frame + first.end_frame) / 2 / timeline.end_frame * (box["width"] - label)
    page.mouse.move(box["x"] + x, box["y"] + ruler + row * 7 + row / 2)
    tip = page.locator("#picture .tip")
    assert tip.is_visible() and f"frames {first.start_frame}–{first.end_frame}" in tip.inner_text()

    page.click("#picture .zoom button[title='zoom in']")  # zooming redraws
    assert int(canvas.get_attribute("data-draws")) >= 2


def test_a_bad_file_shows_its_error_and_the_page_stays_usable(app, tmp_path):
    page, _ = app
    bad = tmp_path / "Broken cut.xml"
    bad.write_text("<?xml version='1.0'?><xmeml version='4'><sequence><name>x</name>")
    page.set_input_files("#upload input[type=file]", str(bad))
    message = page.locator("#upload .message.error")
    message.wait_for()
    assert message.inner_text().startswith("Broken cut.xml:") and "\n" not in message.inner_text().strip()
    assert "Traceback" not in page.content()
    options = page.eval_on_selector_all("#timeline-select option", "options => options.map(o => o.value)")
    assert "uploads/Broken cut.xml" not in options
    page.select_option("#timeline-select", next(o for o in options if o.startswith("corpus/")))
    page.wait_for_selector("#picture[data-ready='1'] canvas[data-draws]")  # still draws the next one


def test_ingest_train_and_continue_a_timeline_then_download_it(app, server, tmp_path):
    page, base = app
    _, _, workdir = server
    # ingest the corpus folder into a frame table
    page.goto(f"{base}/timelines")
    page.select_option("form[data-plan=ingest] select[name=input]", "corpus")
    page.fill("form[data-plan=ingest] input[name=name]", "corpus")
    page.click("form[data-plan=ingest] button[type=submit]")
    page.wait_for_selector(".job[data-kind=ingest][data-state=done]", timeout=JOB_TIMEOUT_MS)
    assert (workdir / "tables" / "corpus.parquet").is_file()

    # a run can be stopped from the page
    page.goto(f"{base}/train")
    page.select_option("form[data-plan=train] select[name=preset]", "configs/tiny.yaml")
    page.fill("form[data-plan=train] input[name=name]", "stopped")
    page.fill("form[data-plan=train] input[name='trainer.max_epochs']", "500")
    page.click("form[data-plan=train] button[type=submit]")
    page.wait_for_selector(".job[data-kind=train][data-state=running] [data-part=cancel]:visible")
    page.click(".job[data-kind=train] [data-part=cancel]")
    page.wait_for_selector(".job[data-kind=train][data-state=cancelled]", timeout=30_000)

    # train a tiny model and watch it finish
    page.goto(f"{base}/train")
    page.select_option("form[data-plan=train] select[name=table]", "tables/corpus.parquet")
    page.select_option("form[data-plan=train] select[name=preset]", "configs/tiny.yaml")
    page.fill("form[data-plan=train] input[name=name]", "browser")
    page.fill("form[data-plan=train] input[name='trainer.max_epochs']", "2")
    page.fill("form[data-plan=train] textarea[name=more]", "trainer.limit_train_batches=3")
    page.click("form[data-plan=train] button[type=submit]")
    page.wait_for_selector(".job[data-kind=train][data-state=running]")
    page.wait_for_selector(".job[data-kind=train][data-state=done]", timeout=JOB_TIMEOUT_MS)
    step = page.inner_text(".job[data-kind=train] [data-part=step]")
    assert "epoch 2 of 2" in step and "val loss" in step
    assert page.eval_on_selector(".job[data-kind=train] progress", "bar => bar.value") == 1
    assert (workdir / "runs" / "browser" / "bundle" / "bundle.json").is_file()

    # the reloaded page finds the finished job again; the models page shows it against the baselines
    page.reload()
    page.wait_for_selector(".job[data-kind=train][data-state=done]")
    page.goto(f"{base}/models")
    model = page.locator("section.model", has_text="runs/browser/bundle")
    assert "persistence" in model.inner_text() and "report" in model.inner_text()

    # continue a timeline with it and download the xmeml
    page.goto(f"{base}/continue")
    page.select_option("form[data-plan=generate] select[name=bundle]", "runs/browser/bundle")
    prompt = page.eval_on_selector_all("#timeline-select option", "o => o.map(x => x.value)")
    prompt = next(value for value in prompt if value.startswith("corpus/"))
    page.select_option("#timeline-select", prompt)
    page.fill("form[data-plan=generate] input[name=seconds]", "4")
    page.click("form[data-plan=generate] button[type=submit]")
    page.wait_for_selector(".job[data-kind=generate][data-state=done]", timeout=JOB_TIMEOUT_MS)
    page.wait_for_selector("#result-picture canvas[data-draws]")
    with page.expect_download() as download_info:
        page.click("#download a")
    saved = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(saved)
    [continued] = read_xmeml(saved)
    [original] = read_xmeml(workdir / prompt)
    assert continued.name == f"{original.name} (continued)" and continued.video_tracks
    assert continued.end_frame > original.end_frame  # the whole prompt, then 4 s more
    assert saved.name.startswith(Path(prompt).stem) and saved.suffix == ".xml"

    # pick a frame on the timeline's picture and see where the model looked when it predicted it
    page.goto(f"{base}/attention")
    page.select_option("form[data-plan=attention] select[name=bundle]", "runs/browser/bundle")
    page.select_option("#timeline-select", prompt)
    canvas = page.wait_for_selector("#picture[data-ready='1'] canvas[data-draws]")
    box = canvas.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    frame = int(page.input_value("#frame-input"))  # at the bundle's rate (the timeline's: tiny has no data.fps)
    assert frame > 0 and "s into the timeline" in page.inner_text("#frame-note")
    page.click("form[data-plan=attention] button[type=submit]")
    page.wait_for_selector(".job[data-kind=attention][data-state=done]", timeout=JOB_TIMEOUT_MS)
    image = page.wait_for_selector("#attention-result img.attention")
    page.wait_for_function("image => image.complete && image.naturalWidth > 0", arg=image)
    assert f"frame {frame} " in (image.get_attribute("alt") or "")


def request_status(url: str, headers: dict[str, str]) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_traversal_a_wrong_host_and_a_missing_token_are_refused(app, server, browser):
    page, base = app
    url, _, workdir = server
    (workdir.parent / "outside.txt").write_text("secret")
    for path in ("/files/..%2foutside.txt", "/files/%2e%2e/outside.txt", "/api/picture?path=../outside.txt"):
        response = page.request.get(base + path)
        assert response.status in (403, 404) and "secret" not in response.text(), path
    token = url.split("token=", 1)[1]
    status, text = request_status(f"{base}/timelines", {"Host": "rebound.example:80", "X-Multitrack-Token": token})
    assert status == 403 and "wrong Host" in text
    stranger = browser.new_context()  # no cookie, no token
    try:
        response = stranger.new_page().goto(f"{base}/timelines")
        assert response.status == 403 and "missing or wrong token" in response.text()
    finally:
        stranger.close()
