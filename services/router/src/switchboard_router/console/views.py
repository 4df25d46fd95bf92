"""The operations console: static files (HTML, JS, CSS; no build step) at `/console/`.

The page is plain files shipped in the package; everything it shows comes
from the API with the officer's bearer token, which the page keeps in
`sessionStorage` and sends in the `Authorization` header (the live stream is
read with `fetch()`, which can send it, so no token ever goes in a URL).
The files need no token: they hold no data. A strict Content-Security-Policy
allows only the console's own script and style and calls to this origin, so
mention text (public, untrusted) can never run as script even if a bug put
it into markup.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse, Response

CONSOLE_DIR = Path(__file__).resolve().parent
FILES = {
    "index.html": "text/html; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


def _file(name: str) -> Response:
    return FileResponse(CONSOLE_DIR / name, media_type=FILES[name], headers=SECURITY_HEADERS)


@router.get("/console")
async def console_redirect() -> RedirectResponse:
    """`/console` without the slash: relative links need the slash."""
    return RedirectResponse("/console/", status_code=308)


@router.get("/console/")
async def console_page() -> Response:
    """The console page."""
    return _file("index.html")


@router.get("/console/{name}")
async def console_asset(name: str) -> Response:
    """One of the console's files; anything else is a 404 (no directory walking)."""
    if name not in FILES:
        raise HTTPException(404, f"no console file {name!r}")
    return _file(name)
