"""The `ivr` command, and `ivr serve`'s composition root (`serve`): the only
place that puts every part together.
"""
