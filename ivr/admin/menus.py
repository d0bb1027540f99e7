"""`/api/menus/...` and `/api/prompts/...`: what admins change of what callers hear.

Every change is checked against the user's reach (`ivr/admin/sessions.py`) and
written to the audit log with what it was before and after, in the change's
own transaction (`MenuAdmin` writes the line of what it changes).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import BodyPartReader, web
from pydantic import BaseModel, Field

from ivr.admin.auth import NATIONAL, check_scope
from ivr.admin.keys import CLOCK, CONFIG, DIRECTORY, SESSIONS
from ivr.admin.limits import RateLimit
from ivr.admin.openapi import Api, parse, version_number
from ivr.admin.sessions import allow_change, allow_read, author, record, who
from ivr.audio import uploads as audio
from ivr.db.models import NOTE_MAX, PromptUploadRow
from ivr.errors import DataError, NotFound
from ivr.publish import store as stored
from ivr.publish.drafts import UPLOAD_PREFIX, MenuAdmin, MenuView
from ivr.publish.menus import MAX_TEXT
from ivr.publish.versions import DiffOut, VersionInfo, VersionOut

MENU_ADMIN = web.AppKey("menu_admin", MenuAdmin)
PROMPT_LIMIT = web.AppKey("prompt_limit", RateLimit)

routes = Api("menus", "1")


class DraftIn(BaseModel):
    """A scope's own nodes (and, for the national menu, its root)."""

    root: str | None = None
    nodes: dict[str, dict[str, Any]] = Field(max_length=400)


class PublishIn(BaseModel):
    note: str = Field("", max_length=NOTE_MAX)


class PreviewIn(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_TEXT)


class UploadOut(BaseModel):
    prompt_id: str
    duration_ms: int
    sha256: str
    audio_url: str


def _scope(request: web.Request) -> str:
    return check_scope(request.match_info["scope"], request.app[DIRECTORY])


@routes.route(
    "GET",
    "/api/menus/{scope}",
    "A scope's menu: the tree callers hear, its draft and problems",
    "menus",
    response=MenuView,
)
async def show_menu(request: web.Request) -> web.Response:
    scope = _scope(request)
    await allow_read(request, scope, "read_menu")
    view = await request.app[MENU_ADMIN].view(scope)
    return web.json_response(view.model_dump(mode="json"))


@routes.route(
    "PUT",
    "/api/menus/{scope}/draft",
    "Save the scope's draft (kept even with problems)",
    "menus",
    body=DraftIn,
    response=MenuView,
)
async def save_draft(request: web.Request) -> web.Response:
    scope = _scope(request)
    data = await parse(request, DraftIn)
    await allow_change(request, scope, "menu_draft")
    admin = request.app[MENU_ADMIN]
    await admin.save_draft(scope, data.model_dump(exclude_none=True), author(request))
    view = await admin.view(scope)
    return web.json_response(view.model_dump(mode="json"))


@routes.route(
    "DELETE", "/api/menus/{scope}/draft", "Throw the scope's draft away", "menus", status=204
)
async def discard_draft(request: web.Request) -> web.Response:
    scope = _scope(request)
    await allow_change(request, scope, "menu_discard")
    await request.app[MENU_ADMIN].discard(scope, author(request))
    return web.Response(status=204)


@routes.route(
    "POST",
    "/api/menus/{scope}/publish",
    "Publish the draft: the next call hears it (422 with the problems if it does not validate)",
    "menus",
    body=PublishIn,
    response=VersionInfo,
    errors=(409, 422),  # no draft, or published meanwhile; a menu that does not validate
)
async def publish(request: web.Request) -> web.Response:
    scope = _scope(request)
    data = await parse(request, PublishIn)
    await allow_change(request, scope, "menu_publish")
    info = await request.app[MENU_ADMIN].publish(scope, data.note, author(request))
    return web.json_response(info.model_dump(mode="json"))


@routes.route(
    "GET",
    "/api/menus/{scope}/versions",
    "Published versions, newest first",
    "menus",
    response=VersionInfo,
    many=True,
)
async def list_versions(request: web.Request) -> web.Response:
    scope = _scope(request)
    await allow_read(request, scope, "read_menu")
    found = await request.app[MENU_ADMIN].versions(scope)
    return web.json_response([v.model_dump(mode="json") for v in found])


@routes.route(
    "GET",
    "/api/menus/{scope}/versions/{number}",
    "One version, with what it held",
    "menus",
    response=VersionOut,
)
async def show_version(request: web.Request) -> web.Response:
    scope = _scope(request)
    await allow_read(request, scope, "read_menu")
    number = version_number(request.match_info["number"])
    found = await request.app[MENU_ADMIN].version(scope, number)
    return web.json_response(found.model_dump(mode="json"))


@routes.route(
    "GET",
    "/api/menus/{scope}/diff",
    "What changed between two versions, node by node",
    "menus",
    response=DiffOut,
    parameters=(("from", "the older version"), ("to", "the newer version")),
)
async def diff(request: web.Request) -> web.Response:
    scope = _scope(request)
    await allow_read(request, scope, "read_menu")
    old = version_number(request.query.get("from", ""), "from")
    new = version_number(request.query.get("to", ""), "to")
    found = await request.app[MENU_ADMIN].diff(scope, old, new)
    return web.json_response(found.model_dump(mode="json", by_alias=True))


@routes.route(
    "POST",
    "/api/menus/{scope}/versions/{number}/restore",
    "Put an earlier version back in force (as a new version)",
    "menus",
    response=VersionInfo,
    errors=(409, 422),  # published meanwhile; a version that no longer validates
)
async def restore(request: web.Request) -> web.Response:
    scope = _scope(request)
    number = version_number(request.match_info["number"])
    await allow_change(request, scope, "menu_restore", f"version {number}")
    info = await request.app[MENU_ADMIN].restore(scope, number, author(request))
    return web.json_response(info.model_dump(mode="json"))


# Prompts --------------------------------------------------------------------------


@routes.route(
    "POST",
    "/api/prompts/preview",
    "A text spoken as callers will hear it (WAV)",
    "prompts",
    body=PreviewIn,
    media="audio/wav",
    limited=True,
)
async def preview(request: web.Request) -> web.Response:
    data = await parse(request, PreviewIn)
    _take_audio_work(request, "previews")
    speak = request.app[MENU_ADMIN].voice.speak
    wav = await asyncio.to_thread(speak, data.text)
    return web.Response(body=wav, content_type="audio/wav", headers={"Cache-Control": "no-store"})


@routes.route(
    "POST",
    "/api/prompts/uploads",
    "Upload a recording (multipart: scope, file); converted for the telephone, loudness levelled",
    "prompts",
    response=UploadOut,
    status=201,
    limited=True,
    errors=(413,),  # a file over the size limit
)
async def upload(request: web.Request) -> web.Response:
    _take_audio_work(request, "uploads")
    scope, name, data = await _upload_parts(request)
    principal = await allow_change(request, scope, "prompt_upload", name)
    converted = await asyncio.to_thread(audio.convert, data, name)
    prompt_id = f"{UPLOAD_PREFIX}{scope}.{converted.sha256[:12]}"
    now = request.app[CLOCK]()
    async with request.app[SESSIONS]() as session, session.begin():
        await stored.keep_audio(
            session, converted.sha256, converted.wav, converted.duration_ms, now
        )
        if not await stored.uploads(session, [prompt_id]):
            row = PromptUploadRow(
                prompt_id=prompt_id,
                sha256=converted.sha256,
                scope=scope,
                file_name=name,
                source_format=converted.source_format[:16],
                created_by=principal.username,
                created_at=now,
            )
            await stored.add_upload(session, row)
        await record(
            request,
            session,
            "prompt_upload",
            scope,
            prompt_id,
            after={"file": name, "duration_ms": converted.duration_ms},
        )
    body = UploadOut(
        prompt_id=prompt_id,
        duration_ms=converted.duration_ms,
        sha256=converted.sha256,
        audio_url=f"/api/prompts/{prompt_id}/audio",
    )
    return web.json_response(body.model_dump(), status=201)


def _take_audio_work(request: web.Request, what: str) -> None:
    """One of the user's previews and uploads (`ivr.admin.limits`), or a 429."""
    request.app[PROMPT_LIMIT].take(who(request).username, request.app[CLOCK](), what)


async def _upload_parts(request: web.Request) -> tuple[str, str, bytes]:
    """(scope, file name, bytes) of a multipart upload, read within the size limit."""
    if not request.content_type.startswith("multipart/"):
        raise DataError("send the recording as multipart/form-data with fields scope and file")
    scope, name, data = "", "", b""
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "scope":
            scope = (await part.text())[:16]
        elif part.name == "file":
            name = part.filename or ""
            data = await _read_bounded(part)
    if not scope:
        raise DataError("say which department the recording is for: the field scope")
    check_scope(scope, request.app[DIRECTORY])
    if not data:
        raise DataError("the upload has no file (the field file), or the file is empty")
    audio.check_name(name)
    return scope, name, data


async def _read_bounded(part: BodyPartReader) -> bytes:
    chunks, size = [], 0
    while chunk := await part.read_chunk(64 * 1024):
        size += len(chunk)
        if size > audio.MAX_UPLOAD_BYTES:
            raise audio.AudioTooLarge(
                f"the file is larger than {audio.MAX_UPLOAD_BYTES // (1024 * 1024)} MB; "
                "the limit is 10 MB",
            )
        chunks.append(chunk)
    return b"".join(chunks)


@routes.route(
    "GET",
    "/api/prompts/{prompt_id}/audio",
    "What a prompt plays (WAV)",
    "prompts",
    media="audio/wav",
)
async def prompt_audio(request: web.Request) -> web.StreamResponse:
    prompt_id = request.match_info["prompt_id"]
    scope = prompt_scope(prompt_id)
    if scope != NATIONAL:
        await allow_read(request, scope, "read_prompt", prompt_id)
    else:
        who(request)
    catalog = request.app[CONFIG].now().catalog
    if catalog.has(prompt_id):
        return web.FileResponse(catalog.path(prompt_id), headers={"Content-Type": "audio/wav"})
    async with request.app[SESSIONS]() as session:
        found = await stored.uploads(session, [prompt_id])
        rows = await stored.audio(session, [found[0].sha256]) if found else {}
    if not found or not rows:
        raise NotFound(f"no prompt {prompt_id!r}", prompt_id=prompt_id)
    return web.Response(body=rows[found[0].sha256].wav, content_type="audio/wav")


def prompt_scope(prompt_id: str) -> str:
    """Whose a prompt is: `svc.<code>.…` and `rec.<code>.…` a department's, the rest national."""
    parts = prompt_id.split(".")
    if len(parts) >= 3 and parts[0] in ("svc", "rec") and parts[1].isdigit():
        return parts[1]
    return NATIONAL
