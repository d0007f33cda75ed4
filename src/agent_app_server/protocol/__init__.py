"""The wire protocol: every message type we speak, and the registry that names them.

Owns: the public surface of the protocol package, which is the union of its modules' ``__all__``
(the one place each name is listed). Names load on first use (PEP 562) through the generated
table in ``_exports.py`` (``scripts/gen_protocol_exports.py``), so that
``import agent_app_server.protocol`` costs nothing and answering ``initialize`` loads only the
handshake models; ``schema_gen`` is imported only by the schema-generating commands.
Layer: protocol (imports nothing of this project beyond its own package).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy_exports
from ._exports import EXPORTS

if TYPE_CHECKING:
    # What type checkers see: the same names, from the same modules' ``__all__``.
    from ._base import *  # noqa: F403
    from .account import *  # noqa: F403
    from .common import *  # noqa: F403
    from .config_api import *  # noqa: F403
    from .exec import *  # noqa: F403
    from .fs import *  # noqa: F403
    from .handshake import *  # noqa: F403
    from .items import *  # noqa: F403
    from .methods import *  # noqa: F403
    from .models_api import *  # noqa: F403
    from .notifications import *  # noqa: F403
    from .registry import *  # noqa: F403
    from .server_requests import *  # noqa: F403
    from .skills import *  # noqa: F403
    from .threads import *  # noqa: F403
    from .tools import *  # noqa: F403

#: Public name → the module that defines it.
_MODULE_OF: dict[str, str] = {name: module for module, names in EXPORTS.items() for name in names}


__getattr__ = lazy_exports(__name__, _MODULE_OF)


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = list(_MODULE_OF)
