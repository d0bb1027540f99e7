"""The call flow of one call, with no I/O: events in, commands out.

Owns: the events and commands (`events`), the state every part shares
(`core`), the one transition table and the machine (`flow`), voice guidance
(`guidance`, with the menus generated from the directory in `guide`), the
operator queue as the caller lives it (`queueing`), the after-hours service
(`service`), and snapshot/restore for recovery.

May import: `ivr.errors`, `ivr.directory` (names and codes), `ivr.publish.menus`
(the service menus as data). Never asyncio, aiohttp, SQLAlchemy, `ivr.ari`,
`ivr.db` or anything that does I/O (an import-linter contract).
"""
