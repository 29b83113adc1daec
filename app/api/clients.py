"""Clients: shared reference data every member of staff may read and edit (as the pages)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import url_for

from app import access
from app.api import bp
from app.api.common import check_if_match, etag_of, page_of, refused
from app.api.schemas import ClientIn, ClientOut, ClientPage, ClientPatch, ListQuery
from app.api.spec import operation
from app.models import Client
from app.positions import services
from app.positions.services import Refused


def _out(client: Client) -> ClientOut:
    return ClientOut.model_validate(client)


@operation(
    bp,
    "GET",
    "/clients",
    summary="List clients",
    tag="clients",
    query=ListQuery,
    response=ClientPage,
)
def list_clients(query: ListQuery):
    return ClientPage(**page_of(sa.select(Client), Client.id, query, _out))


@operation(
    bp,
    "POST",
    "/clients",
    summary="Create a client",
    tag="clients",
    body=ClientIn,
    response=ClientOut,
    status=201,
    etag=True,
)
def create_client(body: ClientIn):
    try:
        client = services.save_client(None, **body.model_dump())
    except Refused as exc:
        raise refused(exc) from None
    out = _out(client)
    return out, {"ETag": etag_of(out), "Location": url_for("api.get_client", client_id=client.id)}


@operation(
    bp,
    "GET",
    "/clients/<int:client_id>",
    summary="Read a client",
    tag="clients",
    response=ClientOut,
    etag=True,
)
def get_client(client_id: int):
    out = _out(access.client_or_404(client_id))
    return out, {"ETag": etag_of(out)}


@operation(
    bp,
    "PATCH",
    "/clients/<int:client_id>",
    summary="Change a client",
    tag="clients",
    body=ClientPatch,
    response=ClientOut,
    etag=True,
)
def update_client(client_id: int, body: ClientPatch):
    client = access.client_or_404(client_id)
    check_if_match(client, _out)
    values = {
        "name": client.name,
        "contact_name": client.contact_name,
        "contact_email": client.contact_email,
        "notes": client.notes,
        **body.model_dump(exclude_unset=True),
    }
    try:
        client = services.save_client(client, **values)
    except Refused as exc:
        raise refused(exc) from None
    out = _out(client)
    return out, {"ETag": etag_of(out)}
