"""What callers hear, from the database: the files become version 1 once,
however many controllers start together."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from ivr.cli.serve import HOURS_FILE
from ivr.db.engine import make_engine, make_sessionmaker
from ivr.db.migrate import upgrade
from ivr.db.models import ConfigVersionRow
from ivr.publish import hours as working_hours
from ivr.publish import in_force as published
from ivr.publish import menus as menu
from ivr.settings import REPO_ROOT
from tests.admin_support import NOW, directory, silent_catalog


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
            *(published.seed(sessions, book.spec, hours.spec, catalog, NOW) for _ in range(3))
        )
        assert sorted(seeded) == [False, False, True]
        async with sessions() as session:
            numbers = await session.scalar(select(func.max(ConfigVersionRow.number)))
        assert numbers == 1
        config = published.Configuration(sessions, directory(), catalog)
        in_force = await config.refresh(force=True)
        assert in_force.menus.national.node("main").prompt_id == "svc.main@v1"
        assert in_force.catalog.has("svc.main@v1")
    finally:
        await engine.dispose()
