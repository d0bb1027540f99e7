"""Development tools, not product (style rule 14): outside the wheel.

`sipcall` (a SIPp caller) with `callermedia` (the RTP a caller sends),
`sipoperator` (SIPp operator phones), `calls` (what `ivr call` does, and the
wait for a call's record the end-to-end tests share) and `asterisk` (the
Asterisk runner behind `ivr asterisk up|down|status`). `ivr.cli.main` imports
them lazily, so `ivr call` and `ivr asterisk` work in a development checkout
and say so in one line where devtools/ is absent.
"""
