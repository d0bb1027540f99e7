"""Stasis: ARI events in, flow commands out, one task per call.

Owns: the controller (each call's queue and task, the commands carried out),
a call's live state (`calls`), what a call leaves for later (`casework`) and
taking calls back after every (re)connect (`recovery`).

May import every package below it (call, desk, cases, publish, audio,
directory, db, ari). Nothing imports it but the CLI's composition root.
"""
