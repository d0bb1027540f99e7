"""The desk: in working hours a caller reaches an operator (the ACD).

Owns: the queue, put together from parts (`desk`: the `Desk`; `core`: the
state they share; `dispatcher`, `legs`, `callbacks`), what it needs of a call
and of Asterisk (`interfaces`), operators and their statuses (`operators`,
`operator_store`), the callers' places in line (`line_store`), queue rules
(`queues`) and operators' phones (`phones`).

May import: `ivr.call` (the flow's events), `ivr.cases`, `ivr.publish`,
`ivr.audio`, `ivr.directory`, `ivr.db`. Asterisk only through the narrow
interfaces it declares (never `ivr.ari.client`).
"""
