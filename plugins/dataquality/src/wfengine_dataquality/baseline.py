"""What is normal for each column, learned once from the original data (round 0).

Later rounds judge the data against this baseline, never against bounds recomputed on data
already trimmed (which would cut deeper into legitimate tails each round), so the rounds
converge. Per column:

* ``extreme``: the plausible range; a value outside it is a violation. It reaches
  ``extreme_k`` (3) times the p5..p95 spread beyond p5 and p95. For a right-skewed column
  (``p95 - p50 > 3 * (p50 - p5)``: delays, amounts, rainfall) the upper end is judged on a
  log scale of ``x - p5 + shift``, so a long natural tail stays inside. Whatever the scale,
  a value more than 1,000 times the column's typical magnitude (the largest of ``|p25|``,
  ``|p50|``, ``|p75|``) is outside.
* ``outlier``: ``[p25 - iqr_k*IQR, p75 + iqr_k*IQR]``; values outside it but inside the
  plausible range are tail outliers, an observation.
* ``categories`` of a categorical text column (see :mod:`.profiling`: at most
  ``max_categories`` values that repeat, not mostly missing): ``common`` values (at least
  ``rare_share`` of the values), ``rare`` ones (an observation), and ``typos`` (a
  violation): values seen once or twice that either sit in a column whose repeating
  values are each seen at least ten times as often (``Snwo`` once among ``snow`` on 26
  days and ``rain`` on 300), or are a misspelling of a value seen at least ten times as
  often (at most one edit per four letters, case ignored: ``Tubro-fan`` among
  ``Turbo-fan``; ``Turbo-prop`` seen twice is a real, rare engine type). When the
  one-offs of a big column are too many to list (``other_values`` in the profile), they
  are all typos or the column is not categorical; ``typos`` then lists a few of them and
  ``more_typos`` says how many there are in all: a value is a typo when it is not one of
  ``common`` or ``rare``.
* ``optional``: the column has missing values in the original data; its nulls are kept.

Also ``index_columns``: columns named like a row index (``""``, ``Unnamed: 0``, ``index``,
``rownames``, ``X``, ...) holding consecutive integers; they are left out of the checks and
of duplicate detection. And ``required``: the columns that must not be missing, those with
no nulls in the original data and those the user names.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
from rapidfuzz import process
from rapidfuzz.distance import OSA

from .profiling import ONE_OFF

#: Skew test: a column is right-skewed when p95 - p50 > SKEW * (p50 - p5).
SKEW = 3.0
#: A value this many times the column's typical magnitude is always extreme.
MAGNITUDE = 1000.0
#: A one-off value is typo-like when the values that repeat are seen this many times as often.
TYPO_GAP = 10
#: Names a row-index column goes by (compared in lower case); also ``Unnamed: N``.
INDEX_NAMES = frozenset({"", "index", "rownames", "row.names", "x", "...1"})
_UNNAMED = re.compile(r"^unnamed: \d+$")


def _round_out(low: float | None, high: float | None, kind: str) -> tuple[Any, Any]:
    """Bounds as JSON numbers: whole numbers for ints (rounded outward), else 10 digits;
    an infinite bound (numbers near the float limit) is no bound (None)."""
    low = None if low is None or not math.isfinite(low) else low
    high = None if high is None or not math.isfinite(high) else high
    if kind == "int":
        return (
            None if low is None else math.floor(low),
            None if high is None else math.ceil(high),
        )
    return (
        None if low is None else float(f"{low:.10g}"),
        None if high is None else float(f"{high:.10g}"),
    )


def extreme_bounds(info: Mapping[str, Any], k: float, kind: str) -> dict[str, Any] | None:
    """The plausible range of a numeric column from its profile (see the module docstring)."""
    q = [info.get(key) for key in ("p05", "p25", "p50", "p75", "p95")]
    if any(v is None for v in q):
        return None
    q05, q25, q50, q75, q95 = (float(v) for v in q)  # type: ignore[arg-type]
    typical = max(abs(q25), abs(q50), abs(q75)) or max(abs(q05), abs(q95))
    magnitude = MAGNITUDE * typical if typical > 0 else None
    spread = q95 - q05
    low: float | None
    high: float | None
    if spread <= 0:
        if magnitude is None:
            return None
        low, high, scale = -magnitude, magnitude, "magnitude"
    else:
        low = q05 - k * spread
        if q95 - q50 > SKEW * (q50 - q05):
            shift = next(d for d in (q50 - q05, q75 - q05, spread / 4) if d > 0)
            y05, y95 = math.log10(shift), math.log10(q95 - q05 + shift)
            high = q05 - shift + 10 ** min(y95 + k * (y95 - y05), 300.0)
            scale = "log"
        else:
            high, scale = q95 + k * spread, "linear"
        if magnitude is not None:
            low, high = max(low, -magnitude), min(high, magnitude)
    low, high = _round_out(low, high, kind)
    return {"min": low, "max": high, "scale": scale}


def outlier_bounds(info: Mapping[str, Any], k: float, kind: str) -> dict[str, Any] | None:
    """``[p25 - k*IQR, p75 + k*IQR]``; None when the IQR is 0."""
    p25, p75 = info.get("p25"), info.get("p75")
    if p25 is None or p75 is None or p75 == p25:
        return None
    iqr = p75 - p25
    low, high = _round_out(p25 - k * iqr, p75 + k * iqr, kind)
    return {"min": low, "max": high}


def typo_like(count: int, floor: int | None) -> bool:
    """Whether a value seen ``count`` times stands apart as a one-off: seen at most twice,
    while every value that repeats more is seen at least ten times as often (``floor``
    is the least count of those). ``snow`` on 26 days is not one."""
    return count <= ONE_OFF and floor is not None and floor >= TYPO_GAP * count


def misspellings(
    candidates: Sequence[tuple[str, int]], top: Sequence[Mapping[str, Any]]
) -> set[str]:
    """The ``(value, count)`` candidates that are a misspelling of a value of ``top`` seen at
    least ten times as often: at most one edit (insertion, deletion, substitution or swap of
    neighbours) per four letters of that value, at least one, case ignored."""
    found: set[str] = set()
    for count in sorted({c for _, c in candidates}):
        names = [v for v, c in candidates if c == count]
        lowered = [v.lower() for v in names]
        for t in top:
            if t["count"] < TYPO_GAP * count:
                continue
            target = str(t["value"]).lower()
            limit = max(1, len(target) // 4)
            for _, _, i in process.extract(
                target, lowered, scorer=OSA.distance, score_cutoff=limit, limit=None
            ):
                found.add(names[i])
    return found


def categories(
    info: Mapping[str, Any], rare_share: float, values: pl.Series | None = None
) -> dict[str, Any] | None:
    """``common``, ``rare`` and ``typos`` values of a categorical column, or None.

    ``values`` (the column) is read only for a column with ``other_values``: one-offs too
    many to be listed in the profile.
    """
    top = info.get("top_values")
    if not top or info["nulls"] * 2 > info["rows"]:
        return None
    non_null = info["rows"] - info["nulls"]
    common = [t for t in top if t["count"] >= rare_share * non_null]
    if not common:
        return None
    repeating = [t["count"] for t in top if t["count"] > ONE_OFF]
    floor = min(repeating) if repeating else None
    rest = [t for t in top if t["count"] < rare_share * non_null]
    unclear = [
        (str(t["value"]), t["count"])
        for t in rest
        if t["count"] <= ONE_OFF and not typo_like(t["count"], floor)
    ]
    spelled = misspellings(unclear, top)
    is_typo = [typo_like(t["count"], floor) or str(t["value"]) in spelled for t in rest]
    found: dict[str, Any] = {
        "common": [t["value"] for t in common],
        "rare": [t["value"] for t, typo in zip(rest, is_typo, strict=True) if not typo],
        "typos": [t["value"] for t, typo in zip(rest, is_typo, strict=True) if typo],
    }
    others = info.get("other_values")
    if others and others["distinct"]:
        if not typo_like(others["max_count"], floor):
            if values is None:
                return None
            counts = values.drop_nulls().value_counts(name="count")
            listed = {t["value"] for t in top}
            one_offs = counts.filter(~pl.col(values.name).is_in(list(listed)))
            names = [(str(v), c) for v, c in one_offs.iter_rows()]
            if len(misspellings(names, top)) < len(names):
                return None  # a long tail of real values, not a categorical column
        found["more_typos"] = others["distinct"]
    return found


def index_columns(frame: pl.DataFrame, columns: Sequence[str]) -> list[str]:
    """Columns named like a row index that hold consecutive integers, without nulls."""
    schema = frame.schema
    named = [
        c
        for c in columns
        if (c.strip().lower() in INDEX_NAMES or _UNNAMED.match(c.strip().lower()))
        and schema[c].is_integer()
    ]
    if not named or frame.height == 0:
        return []
    exprs = []
    for i, name in enumerate(named):
        col = pl.col(name)
        consecutive = (
            (col.null_count() == 0)
            & (col.n_unique() == pl.len())
            & ((col.max() - col.min() + 1).cast(pl.Int64) == pl.len())
        )
        exprs.append(consecutive.alias(str(i)))
    found = frame.select(exprs).row(0)
    return [name for name, ok in zip(named, found, strict=True) if ok]


def number_kind(info: Mapping[str, Any]) -> str | None:
    """``int``/``float`` for a numeric column or a text column of numbers, else None."""
    if info["family"] in ("int", "float"):
        return str(info["family"])
    fmt = info.get("format") or {}
    if fmt.get("format") == "number":
        return "int" if fmt.get("dtype") == "Int64" else "float"
    return None


def learn(
    frame: pl.DataFrame,
    profile: Mapping[str, Any],
    *,
    iqr_k: float,
    extreme_k: float,
    rare_share: float,
    required: Sequence[str] = (),
) -> dict[str, Any]:
    """The baseline of ``frame`` (round 0) from its ``profile``; JSON data."""
    names = list(profile["columns"])
    index = index_columns(frame, names)
    columns: dict[str, dict[str, Any]] = {}
    for name in names:
        info = profile["columns"][name]
        entry: dict[str, Any] = {"optional": info["nulls"] > 0 and name not in required}
        if name in index:
            columns[name] = {"role": "index", **entry}
            continue
        kind = number_kind(info)
        if kind is not None:
            entry.update(
                role="number",
                number=kind,
                extreme=extreme_bounds(info, extreme_k, kind),
                outlier=outlier_bounds(info, iqr_k, kind),
            )
        elif info["family"] == "string" and not info.get("format"):
            found = categories(info, rare_share, frame.get_column(name))
            entry["role"] = "category" if found else "text"
            if found:
                entry["categories"] = found
        else:
            entry["role"] = str(info["family"])
        columns[name] = entry
    return {
        "index_columns": index,
        "required": sorted(
            set(required) | {n for n in names if not profile["columns"][n]["nulls"]}
        ),
        "settings": {"iqr_k": iqr_k, "extreme_k": extreme_k, "rare_share": rare_share},
        "columns": columns,
    }
