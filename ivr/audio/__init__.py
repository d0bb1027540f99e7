"""Prompt audio: the build from prompts/ (`build`), the built catalog
(`catalog`), and audio admins upload or preview (`uploads`).

May import: `ivr.directory` (department names to speak), `ivr.errors`,
`ivr.settings`.
"""
