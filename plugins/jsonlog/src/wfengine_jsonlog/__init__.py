"""wfengine-jsonlog: every run and node lifecycle event as one line of JSON.

Off until configured. Choose a destination with ``WFENGINE_JSONLOG`` (a file path, ``-`` for
stderr, ``logging`` for the ``wfengine`` logger), ``wf run ... --log-json PATH``, or in code::

    from wfengine import Engine
    from wfengine_jsonlog import JsonLogPlugin

    engine = Engine(plugins=[JsonLogPlugin("runs.jsonl")])
"""

from __future__ import annotations

from .formatter import JsonFormatter
from .hooks import ENV_DESTINATION, ENV_VALUES, JsonLogPlugin
from .records import DEFAULT_MAX_VALUE_BYTES
from .sinks import LOGGER_NAME, JsonLogWarning

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MAX_VALUE_BYTES",
    "ENV_DESTINATION",
    "ENV_VALUES",
    "LOGGER_NAME",
    "JsonFormatter",
    "JsonLogPlugin",
    "JsonLogWarning",
    "__version__",
]
