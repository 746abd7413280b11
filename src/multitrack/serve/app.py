"""The web app: server-rendered pages over the workdir, a JSON API for the scripts, jobs.

`create_app(workdir, token, hosts, port)` builds the Starlette app behind the `Guard`
(Host, Origin, token). Pages are Jinja templates from the package (`templates/`), scripts and
styles are the package's `static/` files: nothing is fetched from elsewhere, it works offline.
Reading files and starting processes run in Starlette's thread pool, so a large timeline
being read never holds up a job panel's poll. Every error a request meets is answered with one
line (the CLI's message for bad input), never a traceback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Message

from multitrack import __version__
from multitrack.errors import MultitrackError
from multitrack.serve import pages
from multitrack.serve.guard import Guard
from multitrack.serve.jobs import JobManager, JobRefused
from multitrack.serve.picture import file_pictures
from multitrack.serve.verbs import PLANS, train_progress
from multitrack.serve.workspace import UPLOADS_DIR, PathRefused, Workspace

HERE = Path(__file__).parent
DEFAULT_UPLOAD_LIMIT_BYTES = 200 * 1024 * 1024


class UploadRefused(MultitrackError):
    """An upload over the size limit, or not an .xml file."""


@dataclass
class Settings:
    workspace: Workspace
    jobs: JobManager
    upload_limit_bytes: int
    templates: Environment


def create_app(
    workdir: str | Path,
    token: str,
    hosts: set[str] | None,
    port: int,
    upload_limit_bytes: int = DEFAULT_UPLOAD_LIMIT_BYTES,
) -> Guard:
    workspace = Workspace(workdir)
    templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
    templates.globals.update(pages=pages.NAV, version=__version__)
    settings = Settings(workspace, JobManager(workspace.root), upload_limit_bytes, templates)
    routes = [
        Route("/", lambda request: RedirectResponse("/timelines", status_code=303)),
        *[Route(f"/{page.name}", _page(page.render)) for page in pages.NAV],
        Route("/api/picture", picture),
        Route("/api/upload", upload, methods=["POST"]),
        Route("/api/jobs/{plan}", start_job, methods=["POST"]),
        Route("/api/jobs/{kind}/latest", latest_job),
        Route("/api/job/{job_id}", job_view),
        Route("/api/job/{job_id}/cancel", cancel_job, methods=["POST"]),
        Route("/files/{path:path}", download),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    # MultitrackError and HTTPException are answered where they happen; anything else is also
    # logged with its traceback on the server's console (Starlette re-raises it after answering)
    handlers = {MultitrackError: _one_line_error, HTTPException: _one_line_error, Exception: _one_line_error}
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.settings = settings
    return Guard(app, token, hosts, port)


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _page(render):
    async def endpoint(request: Request) -> Response:
        settings = _settings(request)
        try:
            context = await run_in_threadpool(render, settings.workspace, dict(request.query_params))
        except MultitrackError as exc:
            context = {"error": str(exc)}
        template = settings.templates.get_template(f"{context.get('template', 'error')}.html")
        return HTMLResponse(template.render(**context, path=request.url.path))

    return endpoint


async def picture(request: Request) -> Response:
    workspace = _settings(request).workspace
    relative = request.query_params.get("path", "")
    pictures = await run_in_threadpool(file_pictures, workspace.resolve(relative), relative)
    return JSONResponse({"timelines": pictures})


async def upload(request: Request) -> Response:
    """Multipart .xml files -> WORKDIR/uploads/, each read by the safe reader; a bad one is removed.

    The limit is on the whole request body, counted as it arrives (a missing or false
    Content-Length does not get past it)."""
    settings = _settings(request)
    limit = settings.upload_limit_bytes
    refusal = f"upload over the {limit / (1024 * 1024):g} MB limit (multitrack serve --max-upload-mb)"
    if int(request.headers.get("content-length") or 0) > limit:
        raise UploadRefused(refusal)
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise UploadRefused(refusal)
        return message

    async with Request(request.scope, receive).form(max_files=100, max_part_size=limit) as form:
        files = [item for item in form.getlist("file") if isinstance(item, UploadFile)]
        if not files:
            raise UploadRefused("no file in the upload (field 'file')")
        results = [await _save_upload(item, settings) for item in files]
    return JSONResponse({"files": results})


async def _save_upload(item: UploadFile, settings: Settings) -> dict[str, Any]:
    name = Path(item.filename or "").name
    if not name.lower().endswith(".xml") or name.startswith("."):
        return {"name": name, "error": f"{name or '(no name)'}: expected an .xml file (an xmeml export)"}
    folder = settings.workspace.root / UPLOADS_DIR
    folder.mkdir(exist_ok=True)
    target = folder / name
    relative = settings.workspace.relative(target)
    data = await item.read()
    temporary = folder / f".{name}.part"
    temporary.write_bytes(data)
    try:
        timelines = await run_in_threadpool(file_pictures, temporary, relative)
    except MultitrackError as exc:
        temporary.unlink()
        return {"name": name, "error": str(exc).replace(str(temporary), name)}
    os.replace(temporary, target)
    return {"name": name, "path": relative, "timelines": len(timelines)}


async def start_job(request: Request) -> Response:
    settings = _settings(request)
    plan_name = request.path_params["plan"]
    if plan_name not in PLANS:
        raise JobRefused(f"{plan_name}: no such job")
    make_plan, kind = PLANS[plan_name]
    form = await request.json()
    if not isinstance(form, dict):
        raise MultitrackError("expected a JSON object of form fields")
    plan = await run_in_threadpool(make_plan, {str(k): str(v) for k, v in form.items()}, settings.workspace)
    job = await run_in_threadpool(settings.jobs.start, kind, plan.title, plan.steps, plan.outputs)
    return JSONResponse(await run_in_threadpool(_job_view, settings, job))


async def latest_job(request: Request) -> Response:
    settings = _settings(request)
    job = settings.jobs.latest(request.path_params["kind"])
    return JSONResponse(_job_view(settings, job) if job else None)


async def job_view(request: Request) -> Response:
    settings = _settings(request)
    return JSONResponse(_job_view(settings, settings.jobs.get(request.path_params["job_id"])))


async def cancel_job(request: Request) -> Response:
    settings = _settings(request)
    job = settings.jobs.get(request.path_params["job_id"])
    await run_in_threadpool(settings.jobs.cancel, job)
    return JSONResponse(_job_view(settings, job))


def _job_view(settings: Settings, job) -> dict[str, Any]:
    run = job.spec["outputs"].get("run")
    progress = train_progress(settings.workspace.root / run) if run else None
    return settings.jobs.view(job, progress)


async def download(request: Request) -> Response:
    workspace = _settings(request).workspace
    path = workspace.resolve(request.path_params["path"])
    if not path.is_file():
        raise PathRefused(f"{request.path_params['path']}: not a file")
    # a workdir file is shown in a sandbox (an origin of its own, no scripts), so an HTML file
    # there can never use this app's cookie to drive it
    headers = {"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"}
    if path.suffix in (".html", ".png", ".json", ".csv", ".yaml", ".txt"):
        return FileResponse(path, headers=headers)  # reports and plots open in the browser
    return FileResponse(path, filename=path.name, headers=headers)  # timelines and the rest download


async def _one_line_error(request: Request, exc: Exception) -> Response:
    status = 400
    if isinstance(exc, PathRefused):
        status = 403 if "outside" in str(exc) or "absolute" in str(exc) else 404
    elif isinstance(exc, JobRefused):
        status = 409
    elif isinstance(exc, UploadRefused):
        status = 413
    elif not isinstance(exc, MultitrackError):
        status = getattr(exc, "status_code", 500)
    if isinstance(exc, MultitrackError):
        message = str(exc)
    elif hasattr(exc, "detail"):  # Starlette's HTTPException: a 404, a malformed upload
        message = str(exc.detail)
    else:
        message = f"internal error: {type(exc).__name__}: {exc}"
    root = str(_settings(request).workspace.root)
    message = " ".join(message.replace(root + os.sep, "").replace(root, ".").split())  # one line, workdir-relative
    if request.url.path.startswith(("/api/", "/files/")):
        return JSONResponse({"error": message}, status_code=status)
    return Response(f"multitrack serve: {message}\n", status_code=status, media_type="text/plain")
