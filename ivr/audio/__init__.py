"""Prompt audio: the build from prompts/ (`build`), speaking a text with
espeak-ng and sox (`speech`), the built catalog (`catalog`), and audio admins
upload (`uploads`, levelled by `loudness`) or preview.

Which prompts a build must hold is its caller's to say: the parts that play
them sit above audio, so `ivr.cli.prompt_ids` collects them.

May import: `ivr.directory` (department names to speak), `ivr.errors`,
`ivr.settings`.
"""
