"""``python -m agent_app_server``: the same as the ``agent-app-server`` command.

Layer: entry point (imports ``cli``).
"""

import sys

from .cli import main

sys.exit(main())
