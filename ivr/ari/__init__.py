"""The only layer that talks to Asterisk's REST Interface (ARI)."""
