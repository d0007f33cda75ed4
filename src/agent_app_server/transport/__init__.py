"""Transports: bytes and frames in, whole text messages out (stdio JSONL, in-memory pair; the
WebSocket listener in ``websocket``, its ``auth`` and the ``unix`` socket paths are imported on
demand, so serving stdio never loads the ``websockets`` library).

Layer: transport; imports nothing from this project (not even ``protocol``: it knows bytes and
frames, no wire types, no JSON-RPC and no method names).
"""

from .base import FrameTooLarge, MessageStream
from .memory import MemoryStream, memory_pair
from .stdio import StdioStream

__all__ = ["FrameTooLarge", "MemoryStream", "MessageStream", "StdioStream", "memory_pair"]
