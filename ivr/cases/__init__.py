"""Registered cases (登记): cases, their rules and deadlines, views, the
messages callers leave, how long their recordings are kept (retention),
supervision of late cases (escalations, the inbox, webhook deliveries), and
the periodic report (also as CSV and, with openpyxl, as an Excel workbook).

May import: `ivr.publish` (categories from the menus, working days), `ivr.audio`
(its atomic file write),
`ivr.directory`, `ivr.db`, `ivr.metrics`. Asterisk only through the
interfaces it declares.
"""
