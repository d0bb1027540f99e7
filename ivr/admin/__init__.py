"""The admin web and API: the aiohttp app, sessions and roles, routes by
area, OpenAPI, and the page (`static/`).

May import: `ivr.cases`, `ivr.desk` (operators), `ivr.publish`, `ivr.audio`,
`ivr.directory`, `ivr.db`, `ivr.errors`, `ivr.settings`, `ivr.metrics`
(`GET /metrics`, `metrics`). Never `ivr.stasis`
nor the ARI client: what it needs of the live controller and of Asterisk
are the `Protocol`s in `keys` (`LiveCalls`, `Asterisk`), which the
composition root (`ivr.cli.serve`) fills with the real objects.
"""
