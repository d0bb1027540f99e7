"""The call flow of one call, with no I/O: events in, commands out.

Owns: the events and commands (`events`); the machine (`flow.CallFlow`) and
its one table (`table`: each state's events, each menu's row); what a call
is and the moves every part makes on it (`state.CallState`); its parts, each
an object on that state: the caller's turns at the open menu (`turns`),
voice guidance and the region menu (`guidance`, with the menus generated
from the directory in `guide`), the operator queue as the caller lives it
(`queueing`), the after-hours service menu (`service`), the message box
(`message`), the survey (`survey`); and the saved format of a call for
recovery (`snapshot`).

May import: `ivr.errors`, `ivr.directory` (names and codes), `ivr.publish.menus`
(the service menus as data). Never asyncio, aiohttp, SQLAlchemy, `ivr.ari`,
`ivr.db` or anything that does I/O (an import-linter contract).
"""
