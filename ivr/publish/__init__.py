"""What callers hear, as admins publish it: the service menus (`menus`,
`menu_nodes`, `menu_spec`, `checks`), working hours (`hours`), drafts and
the menu admin (`drafts`, `draft_checks`, `tree`), versions and the one way
to publish one (`versions`, over `store`), and what is in force now
(`in_force`).

May import: `ivr.audio`, `ivr.directory`, `ivr.db` (its audit log too),
`ivr.errors`, `ivr.settings`. Not the admin web, the controller or ARI.
"""
