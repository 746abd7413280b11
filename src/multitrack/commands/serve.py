"""`multitrack serve [--workdir DIR] [--host 127.0.0.1] [--port 8765] [--open] [--token T]`.

A local web app over the work folder: timelines as pictures, train, models, continue. On
127.0.0.1 (the default) it makes a token for this launch and prints the URL that carries it;
any other address needs `--token`, since anyone who can reach the port could drive it.
"""

from __future__ import annotations

import argparse
import secrets
from pathlib import Path

from multitrack.commands.argtypes import positive_int

DEFAULT_PORT = 8765


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workdir", type=Path, default=Path("."), metavar="DIR", help="the folder it serves (default: .)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--open", action="store_true", help="open the page in the default browser")
    parser.add_argument(
        "--token", help="the access token (required with any --host but 127.0.0.1/localhost; default: a new one)"
    )
    parser.add_argument(
        "--max-upload-mb",
        type=positive_int,
        default=200,
        metavar="MB",
        help="largest upload accepted, in MB (default 200)",
    )


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from multitrack.errors import MultitrackError
    from multitrack.serve.app import create_app
    from multitrack.serve.guard import LOOPBACK, allowed_hosts

    if args.host not in LOOPBACK and not args.token:
        raise MultitrackError(f"--host {args.host} reaches beyond this machine: give --token (a long random string)")
    if args.token is not None and len(args.token) < 16:
        raise MultitrackError("--token must be at least 16 characters")
    workdir: Path = args.workdir
    if not workdir.is_dir():
        raise MultitrackError(f"{workdir}: no such folder (the workdir must exist)")
    token = args.token or secrets.token_urlsafe(18)
    app = create_app(workdir, token, allowed_hosts(args.host, args.port), args.port, args.max_upload_mb * 1024 * 1024)
    shown_host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{shown_host}:{args.port}/?token={token}"
    print(f"multitrack serve: {workdir.resolve()} at {url}", flush=True)
    print("  (Ctrl-C stops the server; running jobs go on and are found again at the next start)", flush=True)
    if args.open:
        import webbrowser

        webbrowser.open(url)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", server_header=False)
    uvicorn.Server(config).run()
    return 0
