"""What callers hear, as admins publish it: the service menus (schema, checks,
drafts, versions), working hours, and what is in force now.

May import: `ivr.audio`, `ivr.directory`, `ivr.db`. Not the admin web, the
controller or ARI.
"""
