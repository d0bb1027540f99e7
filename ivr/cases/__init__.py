"""Registered cases (登记): cases, their rules and deadlines, views, the
messages callers leave, how long their recordings are kept (retention), and
the periodic report.

May import: `ivr.publish` (categories from the menus, working days),
`ivr.directory`, `ivr.db`. Asterisk only through the interfaces it declares.
"""
