"""Audio no version needs is pruned (`ivr/publish/pruning.py`): uploads no
version or draft names, and the files of texts of versions long out of
force; never what a version or a draft names, never before the grace.
A real database (SQLite and PostgreSQL), the admin web's own routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ivr.admin.auth import Role
from ivr.db.models import AudioRow, PromptUploadRow
from ivr.publish.pruning import AudioPruner
from tests.admin_support import AdminApp, admin_app
from tests.test_admin_web import MAIN_340121, _tone_wav, _upload

COUNTY = "340123"


@pytest.fixture
async def admin(tmp_path: Path, database_url: str) -> AsyncIterator[AdminApp]:
    async with admin_app(tmp_path, database_url) as found:
        yield found


async def _uploaded(client: Any, seconds: float) -> dict[str, str]:
    response = await _upload(client, "问候.wav", _tone_wav(seconds), COUNTY)
    assert response.status == 201, await response.text()
    body: dict[str, str] = await response.json()
    return body


async def _publish(client: Any, main: dict[str, Any]) -> None:
    saved = await client.put(f"/api/menus/{COUNTY}/draft", json={"nodes": {"main": main}})
    assert saved.status == 200, await saved.text()
    published = await client.post(f"/api/menus/{COUNTY}/publish", json={})
    assert published.status == 200, await published.text()


def _files(folder: Path, version: int) -> set[str]:
    return {p.name for p in folder.glob(f"svc.{COUNTY}.*~v{version}-*.wav")}


async def _stored(admin: AdminApp) -> tuple[set[str], set[str]]:
    async with admin.sessions() as session:
        uploads = set(await session.scalars(select(PromptUploadRow.prompt_id)))
        audio = set(await session.scalars(select(AudioRow.sha256)))
    return uploads, audio


async def test_audio_nothing_names_is_pruned_after_the_grace(admin: AdminApp) -> None:
    county = await admin.as_user("feixi", Role.DEPARTMENT_ADMIN, COUNTY)
    used, drafted, abandoned = [await _uploaded(county, s) for s in (1.0, 1.5, 2.0)]
    await _publish(county, {**MAIN_340121, "text": "第一版：党费，请按1；组织关系，请按2。"})
    # A version that plays a recording: only the database keeps what it names.
    await _publish(county, {**MAIN_340121, "prompt": used["prompt_id"]})
    await _publish(county, {**MAIN_340121, "text": "第三版：党费，请按1；组织关系，请按2。"})
    draft = {"nodes": {"main": {**MAIN_340121, "prompt": drafted["prompt_id"]}}}
    assert (await county.put(f"/api/menus/{COUNTY}/draft", json=draft)).status == 200
    folder = admin.config.base.directory
    first, third = _files(folder, 1), _files(folder, 3)
    assert first and third, "each version's texts were written when it came in force"
    pruner = AudioPruner(admin.sessions, folder, admin.clock, keep_days=7)

    admin.clock.advance(days=6)  # within the grace: an admin may still be editing
    assert (await pruner.run_once()).nothing
    assert _files(folder, 1) == first

    admin.clock.advance(days=2)
    before_uploads, before_audio = await _stored(admin)
    pruned = await pruner.run_once()
    assert pruned.uploads == [abandoned["prompt_id"]]
    assert sorted(pruned.files) == sorted(first)
    uploads, audio = await _stored(admin)
    assert uploads == before_uploads - {abandoned["prompt_id"]}
    assert audio == before_audio - {abandoned["sha256"]}
    assert _files(folder, 1) == set() and _files(folder, 3) == third
    gone = await county.get(abandoned["audio_url"])
    assert gone.status == 404
    for kept in (used, drafted):
        assert (await county.get(kept["audio_url"])).status == 200
    assert (await pruner.run_once()).nothing  # once is enough

    # Version 1 restored: its texts come back from the database as version 4.
    restored = await county.post(f"/api/menus/{COUNTY}/versions/1/restore")
    assert restored.status == 200, await restored.text()
    assert len(_files(folder, 4)) == len(first)
