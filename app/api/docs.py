"""The OpenAPI document and a page that reads it (own HTML and script, no CDN)."""

from __future__ import annotations

from flask import render_template

from app.api import bp
from app.api.spec import document, json_response


@bp.get("/openapi.json")
def openapi_json():
    return json_response(document())


@bp.get("/docs")
def docs():
    return render_template("api/docs.html")
