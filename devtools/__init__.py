"""Development tools, not product: SIP test phones (SIPp callers and operator
phones), the RTP a caller sends, and the Asterisk runner. Outside the wheel;
`ivr call` and `ivr asterisk` find them in a development checkout.
"""
