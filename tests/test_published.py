"""What callers hear, from the database: the files become version 1 once,
however many controllers start together."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from ivr.admin.auth import Role
from ivr.cli.serve import HOURS_FILE
from ivr.db.engine import make_engine, make_sessionmaker
from ivr.db.migrate import upgrade
from ivr.db.models import ConfigVersionRow
from ivr.publish import hours as working_hours
from ivr.publish import in_force as published
from ivr.publish import menus as menu
from ivr.settings import REPO_ROOT
from tests.admin_support import NOW, admin_app, directory, silent_catalog


async def test_controllers_starting_together_publish_the_files_once(
    tmp_path: Path, database_url: str
) -> None:
    await upgrade(database_url)
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    book = menu.read(REPO_ROOT / "routing" / "menus.yaml", directory())
    hours = working_hours.load(HOURS_FILE, directory())
    catalog = silent_catalog(tmp_path / "prompts", book.prompt_texts())
    try:
        seeded = await asyncio.gather(
            *(published.seed(sessions, book.spec, hours.spec, catalog, NOW) for _ in range(8))
        )
        assert sorted(seeded) == [False] * 7 + [True]
        async with sessions() as session:
            numbers = await session.scalar(select(func.max(ConfigVersionRow.number)))
        assert numbers == 1
        config = published.Configuration(sessions, directory(), catalog)
        in_force = await config.refresh(force=True)
        assert in_force.menus.national.node("main").prompt_id == "svc.main@v1"
        assert in_force.catalog.has("svc.main@v1")
    finally:
        await engine.dispose()


async def test_what_was_in_force_at_a_generation_is_read_back(
    tmp_path: Path, database_url: str
) -> None:
    """A call saved under generation g is taken back with the menus of g
    (`Configuration.at`), whatever was published since."""
    county = "340123"
    main = {
        "kind": "menu",
        "choices": [{"key": 1, "to": "dues"}, {"key": 2, "to": "relations"}],
    }
    async with admin_app(tmp_path, database_url) as admin:
        client = await admin.as_user("feixi", Role.DEPARTMENT_ADMIN, county)
        texts = ["第一版：党费，请按1；组织关系，请按2。", "第二版：党费，请按1；组织关系，请按2。"]
        generations = []
        for text in texts:
            draft = {"nodes": {"main": {**main, "text": text}}}
            assert (await client.put(f"/api/menus/{county}/draft", json=draft)).status == 200
            assert (await client.post(f"/api/menus/{county}/publish", json={})).status == 200
            generations.append(admin.config.now().generation)
        assert admin.config.now().menus.effective(county).node("main").text == texts[1]
        first = await admin.config.at(generations[0])
        assert first is not None and first.generation == generations[0]
        node = first.menus.effective(county).node("main")
        assert node.text == texts[0] and node.prompt_id.endswith("@v1")
        assert first.catalog.has(node.prompt_id)
        assert first.catalog.path(node.prompt_id).is_file()
        # Before anything was published there is nothing to go back to.
        assert await admin.config.at(0) is None
