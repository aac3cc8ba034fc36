"""Notifications: tell people and systems what happened, once per receiver.

``messages`` (what a message says), ``send`` and ``email`` (how it travels, with
retries), ``notifier`` (the durable subscription ``notifications`` that ties them to the
log). The channels come from the environments config (``engine.config.notifications``).
"""
