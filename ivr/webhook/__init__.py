"""Webhooks: escalations (`ivr.cases.escalation`) sent to a supervising
system as signed JSON, retried with backoff, every attempt kept in
`webhook_deliveries`.

Owns: the sender (`sender`), the one place besides the ARI layer that makes
HTTP requests. May import `ivr.cases` and below, and `ivr.metrics`; nothing imports it but the
CLI's composition root.
"""
