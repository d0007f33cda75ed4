"""The agent core: threads, turns, items, configuration.

Layer: imports ``protocol``, ``transport``, ``rpc`` and ``store``; never ``server``.
"""
