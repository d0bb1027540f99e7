"""The admin web and API: the aiohttp app, sessions and roles, routes by
area, OpenAPI, and the page (`static/`).

May import: `ivr.cases`, `ivr.desk` (operators), `ivr.publish`, `ivr.audio`,
`ivr.directory`, `ivr.db`. Never `ivr.stasis`: what it needs of the live
controller comes through the interface in `keys`.
"""
