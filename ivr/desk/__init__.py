"""The desk: in working hours a caller reaches an operator (the ACD).

Owns: the queue and its dispatcher (`desk`, `core`, `legs`, `callbacks`),
operators and their statuses (`operators`, `operator_store`), the callers'
places in line (`line_store`), queue rules (`queues`) and operators' phones
(`phones`).

May import: `ivr.call` (the flow's events), `ivr.cases`, `ivr.publish`,
`ivr.audio`, `ivr.directory`, `ivr.db`. Asterisk only through the narrow
interfaces it declares (never `ivr.ari.client`).
"""
