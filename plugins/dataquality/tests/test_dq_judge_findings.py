"""Judgement: extreme values robust to skew, typos vs rare categories, what is a category,
and observations acted on only when asked (``act_on``)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from dq_helpers import merge

from wfengine_dataquality import DataQualityError, detect, load, profile
from wfengine_dataquality.baseline import extreme_bounds
from wfengine_dataquality.detection import detect_frame
from wfengine_dataquality.profiling import profile_frame


def _detect(frame: pl.DataFrame, **settings: Any) -> dict[tuple[str, str | None], Any]:
    frame = frame.with_row_index("_row", offset=1).with_columns(pl.col("_row").cast(pl.Int64))
    findings, _ = detect_frame(frame, profile_frame(frame), **settings)
    return {(f["kind"], f["column"]): f for f in findings}


def _delays(n: int, seed: int = 1) -> list[float]:
    """Flight delays: mostly a few minutes early or late, a long right tail up to hours."""
    rng = random.Random(seed)
    return [round(rng.expovariate(1 / 25) ** 1.3 / 4 - 8, 1) for _ in range(n)]


def test_a_long_natural_tail_is_not_extreme() -> None:
    delays = _delays(20_000)
    assert max(delays) > 20 * sorted(delays)[len(delays) // 2]  # a long tail indeed
    found = _detect(pl.DataFrame({"dep_delay": delays}))
    assert ("extreme", "dep_delay") not in found
    tail = found[("outlier", "dep_delay")]  # the tail is reported, not acted on
    assert tail["severity"] == "observation" and tail["actionable"] is False


def test_an_impossible_reading_among_ordinary_windy_hours_is_extreme() -> None:
    rng = random.Random(2)
    wind = [round(abs(rng.gauss(10, 5)), 1) for _ in range(8_000)]
    wind += [round(rng.uniform(30, 42), 1) for _ in range(414)]  # windy hours
    wind[5000] = 1048.0
    found = _detect(pl.DataFrame({"wind_speed": wind}))
    extreme = found[("extreme", "wind_speed")]
    assert extreme["count"] == 1 and extreme["examples"] == [5001]
    assert extreme["severity"] == "violation" and extreme["actionable"] is True
    assert extreme["scale"] == "linear"


def test_a_thousand_times_the_typical_magnitude_is_extreme_even_when_skewed() -> None:
    delays = _delays(20_000)
    typical = sorted(abs(d) for d in delays)[len(delays) // 2]
    delays[7] = 1000 * max(abs(v) for v in (typical, 30.0)) * 2
    found = _detect(pl.DataFrame({"dep_delay": delays}))
    assert found[("extreme", "dep_delay")]["examples"] == [8]
    info = profile_frame(pl.DataFrame({"v": _delays(20_000)}))["columns"]["v"]
    assert extreme_bounds(info, 3.0, "float")["scale"] == "log"  # type: ignore[index]


def test_typos_are_violations_rare_categories_that_repeat_are_observations() -> None:
    sky = ["Fair"] * 2500 + ["Cloudy"] * 600 + ["rain"] * 300 + ["snow"] * 26 + ["Snwo"]
    found = _detect(pl.DataFrame({"sky": sky}))
    typo = found[("unexpected_value", "sky")]
    assert typo["count"] == 1 and typo["values"] == ["Snwo"] and typo["severity"] == "violation"
    assert typo["allowed"] == ["Fair", "Cloudy", "rain", "snow"]
    rare = found[("rare_value", "sky")]
    assert rare["count"] == 26 and rare["values"] == ["snow"] and rare["actionable"] is False
    assert rare["share"] == round(26 / 3427, 6) and "snow" in rare["message"]


def test_free_text_and_mostly_missing_columns_are_not_categories() -> None:
    n = 400
    frame = pl.DataFrame(
        {
            "comment": [f"comment number {i}" for i in range(n - 2)] + ["ok", "ok"],
            "mostly_missing": [None] * (n - 23) + ["a"] * 12 + ["b"] * 10 + ["c"],
        }
    )
    found = _detect(frame)
    kinds = {k for k in found if k[1] in ("comment", "mostly_missing")}
    assert kinds == {("null", "mostly_missing")}  # the 23 real values are not judged
    assert found[("null", "mostly_missing")]["actionable"] is False


def _state(tmp_path: Path, frame: pl.DataFrame, **settings: Any) -> dict[str, Any]:
    src = tmp_path / "data.csv"
    frame.write_csv(src)
    state: dict[str, Any] = {"source": str(src), "output_dir": str(tmp_path / "out"), **settings}
    for tool in (load, profile):
        merge(state, tool(state))
    return state


def test_act_on_makes_observations_actionable(tmp_path: Path) -> None:
    sky = ["Fair"] * 3000 + ["Cloudy"] * 600 + ["snow"] * 26
    temp = [float(i % 30) for i in range(len(sky) - 1)] + [80.0]
    frame = pl.DataFrame({"day": range(len(sky)), "sky": sky, "temp": temp})
    plain = detect(_state(tmp_path, frame))
    assert plain["anomaly_count"] == 0
    acted = detect(_state(tmp_path, frame, act_on="outliers,rare_values"))
    kinds = {f["kind"]: f for f in acted["findings"] if f["actionable"]}
    assert set(kinds) == {"rare_value", "outlier"} and acted["anomaly_count"] == 27
    assert "acted on" in kinds["outlier"]["message"]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"act_on": "outliers,typos"}, "setting 'act_on' names unknown observation kinds"),
        ({"impute": "zero"}, "setting 'impute' must be one of none, median, mean, mode"),
        ({"iqr_k": -1}, "setting 'iqr_k' must be a number > 0"),
        ({"rare_share": 2}, "setting 'rare_share' must be a share in [0, 1]"),
        ({"required": "nope"}, "setting 'required' names ['nope'], not columns of the data"),
    ],
)
def test_bad_settings_are_clear_errors(
    tmp_path: Path, settings: dict[str, Any], message: str
) -> None:
    state = _state(tmp_path, pl.DataFrame({"a": [1, 2, 3]}))
    state.update(settings)
    with pytest.raises(DataQualityError) as caught:
        detect(state)
    assert str(caught.value).startswith("dq.detect: ") and message in str(caught.value)
