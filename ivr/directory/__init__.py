"""The department directory and which department a call reaches.

Owns: routing (`routing`), reading numbers (`numbers`), the CSV schema
(`departments`), mobile ranges (`mobile`), the directory in the database
(`store`), and `build/`, which makes routing/ from the pinned packages.

May import: `ivr.db`, `ivr.errors`, `ivr.settings`.
"""
