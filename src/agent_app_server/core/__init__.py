"""The agent core: threads, turns, items, tools and the commands they run, configuration.

Layer: core; imports ``protocol``, ``rpc`` (the typed errors handlers raise) and ``store``; never
``transport`` (it reaches clients only through an ``EventSink``) nor ``server``.
"""
