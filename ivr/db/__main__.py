"""`python -m ivr.db upgrade [URL]`: migrate a database (default: the configured one)."""

from __future__ import annotations

import asyncio
import sys

from ivr.db.migrate import upgrade
from ivr.settings import Settings

USAGE = "usage: python -m ivr.db upgrade [DATABASE_URL]"


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "upgrade" or len(argv) > 2:
        print(USAGE, file=sys.stderr)
        return 2
    url = argv[1] if len(argv) == 2 else Settings().database_url
    asyncio.run(upgrade(url))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
