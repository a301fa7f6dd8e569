"""The ``data-quality`` workflow in Python: the twin of ``examples/specs/data-quality.yaml``.

::

    load -> profile -> detect --(anomaly_count > threshold and round < max_rounds)--> rules
              ^   |        \\--(otherwise)--> report -> END                            |
              |   +--(mode == 'validate')--> validate -> report                       |
              +------------------------------ apply <------------------------------------+

Learn mode (the default) finds problems, makes rules and cleans in rounds; validate mode
(``-s mode=validate -s rules=rules.json``) checks the data against saved rules once.
"""

from __future__ import annotations

from wfengine import END, Graph

from .apply import apply_rules
from .detection import detect
from .frames import FrameCache, with_cache
from .loading import load
from .profiling import profile
from .reporting import report
from .rules import generate_rules
from .validation import validate

NAME = "data-quality"
#: The condition for another round of cleaning, as in the YAML spec.
ANOTHER_ROUND = "anomaly_count > threshold and round < max_rounds"
#: The condition for validate mode (``dq.load`` puts ``mode`` in the state).
VALIDATE = "mode == 'validate'"


def create_data_quality_pipeline(frames: FrameCache | None = None) -> Graph:
    """Build the ``data-quality`` graph: profile, detect, clean in rounds, then report.

    Initial state: ``source`` or ``rows``, and the optional settings of
    :data:`.settings.SETTINGS` (``mode=validate`` with ``rules`` checks saved rules).
    With ``frames`` (the engine's plugin passes its own) the nodes keep the frames they
    write and read there, so the next node does not read back what the last one wrote.
    """
    graph = Graph(
        NAME,
        max_steps=200,
        description="Profile, detect, clean in rounds and report on a CSV/Parquet/JSON source",
    )
    graph.set_reducer("issues", "extend")
    nodes = [
        ("load", "dq.load", load),
        ("profile", "dq.profile", profile),
        ("detect", "dq.detect", detect),
        ("rules", "dq.generate_rules", generate_rules),
        ("apply", "dq.apply_rules", apply_rules),
        ("validate", "dq.validate", validate),
        ("report", "dq.report", report),
    ]
    for name, tool, plain in nodes:
        func = with_cache(plain, frames) if frames is not None else plain
        retry = {"max_attempts": 3} if name == "apply" else None
        timeout = 60 if name == "apply" else None
        doc = (plain.__doc__ or "").strip().splitlines()[0]
        graph.add_node(name, func, description=doc, tool=tool, retry=retry, timeout=timeout)
    return (
        graph.add_edge("load", "profile")
        .add_edge("profile", "validate", when=VALIDATE)
        .add_edge("profile", "detect", default=True)
        .add_edge("detect", "rules", when=ANOTHER_ROUND)
        .add_edge("detect", "report", default=True)
        .add_edge("rules", "apply")
        .add_edge("apply", "profile")
        .add_edge("validate", "report")
        .add_edge("report", END)
        .set_entry_point("load")
    )
