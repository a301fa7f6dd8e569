"""The columns the tools add to the data, and the data's own columns.

``_row`` (the 1-based source row number) is on every frame the tools write; the marker
columns appear once a rule changed values: ``_imputed`` lists, per row, the columns whose
missing value was filled in, ``_clipped`` the columns whose value was clipped into a range.
They are part of the clean output, so no changed value goes unmarked.
"""

from __future__ import annotations

from collections.abc import Iterable

from .io import ROW

IMPUTED = "_imputed"
CLIPPED = "_clipped"
#: Marker columns: never profiled or judged, never part of duplicate detection.
MARKERS = (IMPUTED, CLIPPED)
#: Every column name the tools add.
ADDED = (ROW, *MARKERS)


def data_columns(columns: Iterable[str]) -> list[str]:
    """The data's own columns: ``columns`` without ``_row`` and the marker columns."""
    return [c for c in columns if c not in ADDED]
