"""Stasis: ARI events in, flow commands out, one task per call.

Owns: the controller (`controller`, which only puts the parts together and
takes its `Collaborators` from the composition root, `parts`), the events
routed to their calls (`router`), the calls and how each begins
(`registry`, with a call's live state in `calls`), one call's task and the
flow's commands carried out (`runner`), what a call leaves for later
(`casework`), feature codes from operators' phones (`features`) and taking
calls back after every (re)connect (`recovery`); a controller per Asterisk
seen as one (`fleet`), and the leases that decide which process serves which
Stasis application, taking a dead controller's over (`takeover`). The parts
reach each other through public methods only.

May import every package below it (call, desk, cases, publish, audio,
directory, db, ari) and `ivr.metrics` (calls started and ended), and is the
one package besides the CLI that holds the ARI client: the desk and the
cases get it as the Protocols they declare.
Nothing imports it but the CLI's composition root.
"""
