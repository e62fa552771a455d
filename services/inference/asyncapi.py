"""The system's AsyncAPI document (docs/asyncapi.json, every service's topics) beside the
OpenAPI one: the JSON, and a page that renders it."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse
from faststream.specification.asyncapi.site import ASYNCAPI_CSS_DEFAULT_URL, ASYNCAPI_JS_DEFAULT_URL

from services.common.settings import REPO_ROOT

DOCUMENT = REPO_ROOT / "docs" / "asyncapi.json"
POINTER = "The events every service consumes and publishes: AsyncAPI at [/asyncapi](/asyncapi)."
PAGE = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>yieldloop events (AsyncAPI)</title>
<link rel="stylesheet" href="{ASYNCAPI_CSS_DEFAULT_URL}"></head>
<body><div id="asyncapi"></div>
<script src="{ASYNCAPI_JS_DEFAULT_URL}"></script>
<script>
fetch("/asyncapi.json").then((r) => r.json()).then((schema) =>
  AsyncApiStandalone.render({{schema, config: {{show: {{sidebar: true}}}}}},
    document.getElementById("asyncapi")));
</script></body></html>
"""
router = APIRouter(tags=["docs"])


@router.get("/asyncapi.json", include_in_schema=False)
async def document() -> FileResponse:
    return FileResponse(DOCUMENT, media_type="application/json")


@router.get("/asyncapi", include_in_schema=False)
async def page() -> HTMLResponse:
    return HTMLResponse(PAGE)
