"""Who may drive the app: the checks every request passes before any route sees it.

1. `Host` must name the address the server was bound to (on 127.0.0.1: `127.0.0.1:PORT` or
   `localhost:PORT`), so a rebinding host name (evil.example resolving to 127.0.0.1) is refused.
2. `Origin`, when the browser sends one, must be this server's own, and a cross-site fetch
   (`Sec-Fetch-Site: cross-site`) is refused: no other page can post to it.
3. The per-launch token: the printed URL carries `?token=`; the first visit with it sets a
   cookie (HttpOnly, SameSite=Strict) and redirects to the same page without it. Every other
   request needs the cookie or an `X-Multitrack-Token` header.

A refusal is a 403 with one line saying which check failed.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
TOKEN_HEADER = "x-multitrack-token"


def cookie_name(port: int) -> str:
    """One cookie per port: browsers share cookies between ports of one host."""
    return f"multitrack_token_{port}"


def allowed_hosts(host: str, port: int) -> set[str] | None:
    """The Host values to accept; None (any) on a non-loopback address, where the token alone guards."""
    if host not in LOOPBACK:
        return None
    names = {"127.0.0.1", "localhost", "[::1]"}
    return {f"{name}:{port}" for name in names}


class Guard:
    """ASGI middleware: Host, Origin and token checks in front of the app."""

    def __init__(self, app: ASGIApp, token: str, hosts: set[str] | None, port: int):
        self.app, self.token, self.hosts, self.port = app, token, hosts, port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
        host = headers.get("host", "")
        if self.hosts is not None and host not in self.hosts:
            await _refuse(send, f"wrong Host {host!r}: open the address multitrack serve printed")
            return
        origin = headers.get("origin")
        if origin is not None and origin != f"http://{host}":
            await _refuse(send, f"cross-origin request from {origin!r} refused")
            return
        if headers.get("sec-fetch-site") == "cross-site":
            await _refuse(send, "cross-site request refused")
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if self._matches(query.get("token")):
            await self._set_cookie_and_redirect(scope, query, send)
            return
        cookies = SimpleCookie(headers.get("cookie", ""))
        cookie = cookies.get(cookie_name(self.port))
        if not (self._matches(cookie.value if cookie else None) or self._matches(headers.get(TOKEN_HEADER))):
            await _refuse(send, "missing or wrong token: open the URL multitrack serve printed (it ends in ?token=...)")
            return
        await self.app(scope, receive, send)

    def _matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    async def _set_cookie_and_redirect(self, scope: Scope, query: dict[str, str], send: Send) -> None:
        rest = urlencode({k: v for k, v in query.items() if k != "token"})
        location = quote(scope["path"]) + (f"?{rest}" if rest else "")
        cookie = f"{cookie_name(self.port)}={self.token}; Path=/; HttpOnly; SameSite=Strict"
        headers = [(b"location", location.encode()), (b"set-cookie", cookie.encode()), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 303, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


async def _refuse(send: Send, message: str) -> None:
    body = f"multitrack serve: refused: {message}\n".encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 403, "headers": headers})
    await send({"type": "http.response.body", "body": body})
