"""Plant known errors into a copy of a table, at known rows, with a fixed seed.

The table is handled as text (every column a string, as the file has it; an empty field is
null, other null markers such as ``NA`` stay as written), so the planted copy differs from
the original only in the planted cells and the appended rows. Four kinds, each on about
``share`` of the rows, on disjoint rows:

* ``malformed``: a token that is no number (``12..5``, ``abc``, ``#REF!``) in a numeric column;
* ``magnitude``: 10^4 or 10^6 times the column's median magnitude, keeping the row's sign;
* ``garbage``: a one-off typo-like string (``Frnace``) in a low-cardinality text column;
* ``duplicate``: an exact copy of an existing row, appended (an index column, such as an R
  row-name column, gets the next running number, as a real export would write it).
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field

import polars as pl

#: Cells that mean "missing" in R, pandas and most exports (compared whole, after stripping).
NULL_MARKERS = ("", "NA", "N/A", "NULL", "null", "NaN", "nan", "-")
#: Names of a row-index column (compared in lower case), when it holds consecutive integers.
INDEX_NAMES = ("", "unnamed: 0", "index", "rownames", "x")
MALFORMED_TOKENS = ("12..5", "abc", "#REF!")
MAGNITUDES = (1e4, 1e6)
ROW = "_row"
KINDS = ("malformed", "magnitude", "garbage", "duplicate")


def is_null_like(name: str) -> pl.Expr:
    """True where the text cell is missing: null or one of :data:`NULL_MARKERS`."""
    col = pl.col(name)
    return col.is_null() | col.str.strip_chars().is_in(NULL_MARKERS)


def as_number(name: str) -> pl.Expr:
    """The text cell as a float (a decimal comma accepted), null where it is none."""
    text = pl.col(name).str.strip_chars()
    text = (
        pl.when(text.str.contains(r"^[+-]?\d+,\d+$"))
        .then(text.str.replace(",", ".", literal=True))
        .otherwise(text)
    )
    return text.cast(pl.Float64, strict=False)


@dataclass(frozen=True)
class Columns:
    """The columns of a text table by role."""

    index: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    integer: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    decimal_comma: tuple[str, ...] = ()  # numeric columns written with a decimal comma


def classify(raw: pl.DataFrame, max_categories: int = 30, min_repeat: int = 10) -> Columns:
    """Index, numeric (and integer) and low-cardinality text columns of a text table.

    Numeric: every non-missing value is a number (a decimal comma accepted). Index: named
    like a row index and holding consecutive integers. Categorical: not numeric, 2 to
    ``max_categories`` distinct values, each seen ``min_repeat`` times on average.
    """
    index, numeric, integer, categorical, comma = [], [], [], [], []
    for name in raw.columns:
        present = raw.filter(~is_null_like(name)).get_column(name).str.strip_chars()
        if present.len() == 0:
            continue
        as_float = present.to_frame().select(as_number(name)).to_series()
        if as_float.null_count() == 0:
            if present.str.contains(",", literal=True).any():
                comma.append(name)
            as_int = present.cast(pl.Int64, strict=False)
            if as_int.null_count() == 0:
                integer.append(name)
                steps = as_int.diff().drop_nulls()
                if (
                    name.strip().lower() in INDEX_NAMES
                    and present.len() == raw.height
                    and (steps.len() == 0 or (steps == 1).all())
                ):
                    index.append(name)
                    continue
            numeric.append(name)
        else:
            distinct = present.n_unique()
            if 2 <= distinct <= max_categories and present.len() >= min_repeat * distinct:
                categorical.append(name)
    return Columns(*map(tuple, (index, numeric, integer, categorical, comma)))


def earlier_copies(raw: pl.DataFrame, index: tuple[str, ...]) -> pl.Series:
    """True for each row that repeats an earlier row on every column but the index ones."""
    data = [c for c in raw.columns if c not in index]
    return raw.select(pl.struct(data).is_first_distinct().not_()).to_series()


def typo(value: str, rng: random.Random, taken: set[str]) -> str:
    """A one-off misspelling of ``value`` (two neighbours swapped, letters added) not in taken."""
    chars = list(value)
    if len(chars) >= 3:
        i = rng.randrange(1, len(chars) - 1)
        chars[i - 1], chars[i] = chars[i], chars[i - 1]
    result = "".join(chars)
    while result in taken or result == value:
        pos = rng.randrange(len(result) + 1)
        result = result[:pos] + rng.choice(string.ascii_lowercase) + result[pos:]
    taken.add(result)
    return result


def _number_text(value: float, integer: bool, comma: bool) -> str:
    if integer:
        return str(int(round(value)))
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") if comma else text


@dataclass
class Plant:
    """A planted copy and the list of what was planted where."""

    frame: pl.DataFrame  # text; rows 1..source_rows are the source's, then the copies
    errors: pl.DataFrame  # _row (1-based in the copy), kind, column, planted, original
    source_rows: int
    columns: Columns
    natural_duplicates: list[int] = field(default_factory=list)  # 1-based rows


def plant(raw: pl.DataFrame, seed: int = 12, share: float = 0.01) -> Plant:
    """Plant each kind of error on ``share`` of the rows (at least one), disjoint rows.

    A kind with no column to plant into (no numeric, no low-cardinality text column) is
    skipped. Rows that already repeat an earlier row are never chosen.
    """
    rng = random.Random(seed)
    n = raw.height
    per_kind = max(1, round(share * n))
    cols = classify(raw)
    natural = earlier_copies(raw, cols.index)
    natural_rows = [i + 1 for i, dup in enumerate(natural) if dup]
    candidates = [i for i, dup in enumerate(natural) if not dup]  # 0-based
    cell_kinds = [k for k in ("malformed", "magnitude") if cols.numeric]
    if cols.categorical:
        cell_kinds.append("garbage")
    wanted = per_kind * (len(cell_kinds) + 1)
    if len(candidates) < wanted:
        raise ValueError(f"{n} rows are too few to plant {wanted} errors on disjoint rows")
    chosen = rng.sample(candidates, wanted)

    errors: list[dict[str, object]] = []
    edits: dict[str, tuple[list[int], list[str]]] = {}

    def edit(row: int, column: str, text: str, kind: str) -> None:
        rows, values = edits.setdefault(column, ([], []))
        rows.append(row)
        values.append(text)
        original = raw.get_column(column)[row]
        errors.append(
            {ROW: row + 1, "kind": kind, "column": column, "planted": text, "original": original}
        )

    medians = {}
    for name in cols.numeric:
        values = raw.select(as_number(name).abs().drop_nulls()).to_series()
        median = float(values.median() or 0.0)
        if median == 0.0:
            nonzero = values.filter(values > 0)
            median = float(nonzero.mean() or 1.0) if nonzero.len() else 1.0
        signed = raw.select(as_number(name).drop_nulls()).to_series()
        medians[name] = (median, -1.0 if float(signed.median() or 0.0) < 0 else 1.0)

    numbers = {name: raw.select(as_number(name)).to_series() for name in cols.numeric}
    present = {name: raw.filter(~is_null_like(name)).get_column(name) for name in cols.categorical}
    taken = {
        str(v) for name in cols.categorical for v in raw.get_column(name).unique().drop_nulls()
    }
    for k, kind in enumerate(cell_kinds):
        for row in chosen[k * per_kind : (k + 1) * per_kind]:
            if kind == "malformed":
                edit(row, rng.choice(cols.numeric), rng.choice(MALFORMED_TOKENS), kind)
            elif kind == "magnitude":
                name = rng.choice(cols.numeric)
                median, typical_sign = medians[name]
                here = numbers[name][row]
                sign = typical_sign if not here else (1.0 if here > 0 else -1.0)
                value = sign * rng.choice(MAGNITUDES) * median
                text = _number_text(value, name in cols.integer, name in cols.decimal_comma)
                edit(row, name, text, kind)
            else:
                name = rng.choice(cols.categorical)
                values = present[name]
                base = str(values[rng.randrange(values.len())])
                edit(row, name, typo(base, rng, taken), kind)

    frame = raw
    for name, (rows, values) in edits.items():
        series = frame.get_column(name).clone()
        series.scatter(rows, values)
        frame = frame.with_columns(series)

    sources = sorted(chosen[len(cell_kinds) * per_kind :])
    copies = raw[sources]
    if cols.index:
        starts = {
            c: int(raw.get_column(c).str.strip_chars().cast(pl.Int64).min() or 0)
            for c in cols.index
        }
        copies = copies.with_columns(
            pl.Series(c, [str(starts[c] + n + i) for i in range(len(sources))]) for c in cols.index
        )
    for i, source in enumerate(sources):
        errors.append(
            {ROW: n + i + 1, "kind": "duplicate", "column": None, "planted": None, "original": None}
        )
        errors[-1]["source_row"] = source + 1
    frame = pl.concat([frame, copies])
    schema = {
        ROW: pl.Int64,
        "kind": pl.String,
        "column": pl.String,
        "planted": pl.String,
        "original": pl.String,
        "source_row": pl.Int64,
    }
    table = pl.DataFrame(
        [{key: e.get(key) for key in schema} for e in errors], schema=schema, orient="row"
    )
    return Plant(frame, table.sort(ROW), n, cols, natural_rows)


def write_like(frame: pl.DataFrame, header_line: bytes, path: str, sep: str, quote: str) -> None:
    """Write a text table as CSV under the source's own header line (kept byte for byte)."""
    with open(path, "wb") as out:
        out.write(header_line)
        frame.write_csv(out, include_header=False, separator=sep, quote_char=quote)


def header_line(path: str) -> bytes:
    """The first line of a file, with its line ending."""
    with open(path, "rb") as src:
        return src.readline()
