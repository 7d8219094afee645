"""`/docs` (Swagger UI) and `/redoc` from installed files, so they render with no network.

FastAPI's own pages load both from a CDN: on an offline or locked-down network they are
blank. The `fastapi-offline` package ships current builds of both; only its files are
used here, served from `/docs-assets`.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs-assets"
# Both pages stay on this server whatever their bundles reach for (ReDoc's footer loads a
# logo from its vendor's CDN): the browser refuses any other origin before asking the
# network. The pages' own inline start-up scripts and their generated styles are allowed.
_DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
ASSETS_DIR = Path(str(files("fastapi_offline") / "static"))

docs = APIRouter(include_in_schema=False)


@docs.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI over this server's OpenAPI schema."""
    root = request.scope.get("root_path", "")
    page = get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} – API",
        swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
        # No badge from the public validator service: it would call out of the network.
        swagger_ui_parameters={"validatorUrl": None},
    )
    page.headers["Content-Security-Policy"] = _DOCS_CSP
    return page


@docs.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    """ReDoc over this server's OpenAPI schema."""
    root = request.scope.get("root_path", "")
    page = get_redoc_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} – API reference",
        redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
        with_google_fonts=False,
    )
    page.headers["Content-Security-Policy"] = _DOCS_CSP
    return page


def mount_docs(app: FastAPI) -> None:
    """Serve the two documentation pages and their assets."""
    app.include_router(docs)
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
