"""How fast `multitrack serve` draws a timeline in the browser (Debian's Chromium, headless).

    python benchmarks/serve.py [--repeats 5]

Two timelines: Helaften (../shared/corpus/real/nrk/Helaften_del-1-MASTER-v3.xml, the largest
real export: 8 video tracks, ~500 clips; skipped when the corpus is absent) and a synthetic
one of 20 tracks and 10,000 clips written with the package's xmeml writer. For each, printed:
the server's answer to /api/picture (read + JSON, timed from Python, and its size), the
page's fetch and parse of it, the first picture (building and drawing it), and the median
redraw of the whole timeline and of a 1/16 zoom (the canvas only). Nothing is asserted.
Run it under the CPU lock: `flock /tmp/cpu.lock python benchmarks/serve.py`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

from multitrack.timeline.model import Asset, Clip, Rate, Timeline, Track
from multitrack.timeline.xmeml import write_xmeml

ROOT = Path(__file__).resolve().parents[1]
HELAFTEN = ROOT.parent / "shared" / "corpus" / "real" / "nrk" / "Helaften_del-1-MASTER-v3.xml"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
CHROMIUM_ARGS += ["--disable-component-update", "--disable-sync", "--no-first-run"]


def synthetic_timeline(tracks: int = 20, clips: int = 10_000, assets: int = 40) -> Timeline:
    """`clips` clips spread over `tracks` tracks, 1-4 s each with gaps, 25 fps, `assets` files."""
    per_track = clips // tracks
    media = {
        f"file-{i}": Asset(
            f"file-{i}",
            f"cam{i:02d}.mov",
            pathurl=f"file://localhost/media/cam{i:02d}.mov",
            width_px=1920,
            height_px=1080,
            rate=Rate(25),
            duration_frames=500_000,
        )
        for i in range(1, assets + 1)
    }
    video = []
    for t in range(tracks):
        start, track_clips = t * 7, []
        for i in range(per_track):
            length = 25 + (i * 37 + t * 11) % 75
            asset = f"file-{1 + (i * 7 + t) % assets}"
            track_clips.append(Clip(asset, start, start + length, start, start + length, name=media[asset].name))
            start += length + (i * 13 + t) % 20
        video.append(Track(track_clips))
    end = max(track.clips[-1].end_frame for track in video)
    return Timeline("synthetic 20 x 10000", Rate(25), 1920, 1080, end, video_tracks=video, assets=media)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(workdir: Path, port: int) -> tuple[subprocess.Popen, str]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    command = [sys.executable, "-m", "multitrack", "serve", "--workdir", str(workdir), "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=environment)
    assert process.stdout is not None
    url = process.stdout.readline().split(" at ", 1)[1].split()[0]
    for _ in range(200):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process, url
        time.sleep(0.05)
    raise RuntimeError("the server did not start")


def server_figures(base: str, token: str, path: str, repeats: int) -> tuple[float, int]:
    """Best time of /api/picture from Python (ms) and the answer's size (bytes)."""
    request = urllib.request.Request(f"{base}/api/picture?path={urllib.request.quote(path)}")
    request.add_header("X-Multitrack-Token", token)
    times, size = [], 0
    for _ in range(repeats):
        began = time.perf_counter()
        with urllib.request.urlopen(request) as response:
            size = len(response.read())
        times.append((time.perf_counter() - began) * 1000)
    return min(times), size


REDRAW = """async ([repeats, factor]) => {
    const picture = document.querySelector('#picture').pictures[0];
    picture.fit();
    if (factor < 1) picture.zoom(factor, 0.5);
    const times = [];
    for (let i = 0; i < repeats; i++) {
        await new Promise(requestAnimationFrame);
        picture.draw();
        times.push(picture.lastDrawMs);
    }
    return times;
}"""


def browser_figures(page, base: str, path: str, repeats: int) -> dict[str, float]:
    loads, firsts, whole, zoomed = [], [], [], []
    for _ in range(repeats):
        page.goto(f"{base}/timelines?path={urllib.request.quote(path)}")
        page.wait_for_selector(f"#picture[data-path='{path}'][data-ready='1'] canvas[data-draws]", timeout=120_000)
        loads.append(float(page.get_attribute("#picture", "data-load-ms")))
        firsts.append(float(page.get_attribute("#picture", "data-draw-ms")))
        whole += page.evaluate(REDRAW, [repeats, 1])
        zoomed += page.evaluate(REDRAW, [repeats, 1 / 16])
    return {
        "fetch+parse ms": statistics.median(loads),
        "first picture ms": statistics.median(firsts),
        "redraw whole ms": statistics.median(whole),
        "redraw 1/16 ms": statistics.median(zoomed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        files = []
        if HELAFTEN.is_file():
            shutil.copy(HELAFTEN, workdir / HELAFTEN.name)
            files.append(HELAFTEN.name)
        else:
            print(f"(no {HELAFTEN}: Helaften skipped)")
        write_xmeml(synthetic_timeline(), workdir / "synthetic.xml")
        files.append("synthetic.xml")
        port = free_port()
        process, url = start_server(workdir, port)
        base, token = url.split("/?")[0], url.split("token=")[1]
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(url)
                print(
                    f"{'timeline':32} {'tracks':>6} {'clips':>6} {'JSON kB':>8} {'server ms':>9} "
                    f"{'fetch+parse':>11} {'first draw':>10} {'redraw':>7} {'redraw 1/16':>11}"
                )
                for path in files:
                    server_ms, size = server_figures(base, token, path, args.repeats)
                    figures = browser_figures(page, base, path, args.repeats)
                    canvas = page.query_selector("#picture canvas")
                    tracks, clips = canvas.get_attribute("data-tracks"), canvas.get_attribute("data-clips")
                    print(
                        f"{path[:32]:32} {tracks:>6} {clips:>6} {size / 1000:8.0f} {server_ms:9.0f} "
                        + " ".join(
                            f"{figures[k]:{w}.1f}"
                            for k, w in (
                                ("fetch+parse ms", 11),
                                ("first picture ms", 10),
                                ("redraw whole ms", 7),
                                ("redraw 1/16 ms", 11),
                            )
                        )
                    )
                browser.close()
        finally:
            process.terminate()
            process.wait(timeout=10)
    print("ms: medians over --repeats page loads (server: best of them); redraw: canvas only, after a frame")


if __name__ == "__main__":
    main()
