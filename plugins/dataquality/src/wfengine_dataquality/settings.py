"""The settings of the ``data-quality`` workflow: its declared state keys, and how the tools
read them.

A setting given in the run's state (``wf run data-quality -s iqr_k=3``) wins over the node
``params`` of the same name in a spec; without either, the tool's default applies. The
workflow registers :data:`SETTINGS` with the engine, so a key not listed here is refused
when a run starts or is resumed (with the valid keys in the message). Keys the tools write
themselves (``round``, ``schema``, ``profile``, ...) are not settings: a resume patch cannot
set them.

This module does not import polars (the plugin module imports it when wfengine starts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .errors import DataQualityError
from .read_options import READ_SETTINGS

#: Observation kinds ``act_on`` may name, and the finding kind each stands for.
ACT_ON = {"outliers": "outlier", "rare_values": "rare_value"}
IMPUTE = ("none", "median", "mean", "mode")
#: What a run does: learn rules from the data and clean it, or check it against saved rules.
MODES = ("learn", "validate")

#: Every state key the data-quality workflow accepts, with what it means.
SETTINGS: dict[str, str] = {
    "source": "path of the .csv/.parquet/.ndjson/.json file to check",
    "rows": "instead of source: a list of row objects",
    "output_dir": "folder for every file of the run (default ./wf-output/<timestamp>-<id>)",
    "expected_schema": "{column: type} the data must have",
    "threshold": "another round runs while more than this many findings are acted on (0)",
    "max_rounds": "at most this many rounds of cleaning (3)",
    "iqr_k": "tail outliers are outside [p25 - k*IQR, p75 + k*IQR] (1.5); observations",
    "extreme_k": "extreme values lie beyond p95 + k*(p95 - p5), on a log scale when skewed (3)",
    "rare_share": "a category seen in under this share of a column's values is rare (0.01)",
    "max_categories": "a text column with at most this many distinct values is categorical (50)",
    "act_on": "observation kinds to act on too, a comma list: outliers, rare_values",
    "required": "columns that must not be missing, a comma list (also: no nulls in the data)",
    "impute": "fill missing values of optional columns: none (default), median, mean or mode",
    "fill": "{column: strategy or {strategy, value}}: fill these columns' missing values",
    "range_action": "what an acted-on outlier range does: quarantine (default) or clip",
    "max_quarantine_share": "fail the run when more than this share of rows is quarantined (0.1)",
    "title": "the report's heading",
    "mode": "learn (default: find problems, make rules, clean) or validate (apply saved rules)",
    "rules": "validate mode: path of the rules file (.json/.yaml) to check the data against",
    "act": "validate mode: true (default) quarantines per each rule's action; false reports only",
    **READ_SETTINGS,
}


def setting(state: Mapping[str, Any], params: Mapping[str, Any], key: str, default: Any) -> Any:
    """The value of setting ``key``: the state's, else the node param's, else ``default``."""
    if state.get(key) is not None:
        return state[key]
    if params.get(key) is not None:
        return params[key]
    return default


def positive(value: Any, key: str, tool: str, *, allow_zero: bool = False) -> float:
    """``value`` as a positive number (or zero when allowed), else a clear error."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and (value > 0 or (allow_zero and value == 0)):
        return float(value)
    what = "a number >= 0" if allow_zero else "a number > 0"
    raise DataQualityError(f"{tool}: setting '{key}' must be {what}, got {value!r}")


def share(value: Any, key: str, tool: str) -> float:
    """``value`` as a share between 0 and 1."""
    number = positive(value, key, tool, allow_zero=True)
    if number > 1:
        raise DataQualityError(f"{tool}: setting '{key}' must be a share in [0, 1], got {value!r}")
    return number


def names(value: Any, key: str, tool: str) -> list[str]:
    """A comma list (``"a,b"``) or a list of names as a list of names; none for null/empty."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return list(value)
    raise DataQualityError(
        f"{tool}: setting '{key}' must be a comma list or a list of names, got {value!r}"
    )


def act_on(value: Any, tool: str) -> set[str]:
    """The finding kinds ``act_on`` names (``outliers,rare_values`` -> outlier, rare_value)."""
    kinds = names(value, "act_on", tool)
    if kinds == ["none"]:
        return set()
    unknown = [k for k in kinds if k not in ACT_ON]
    if unknown:
        raise DataQualityError(
            f"{tool}: setting 'act_on' names unknown observation kinds {unknown};"
            f" valid: {', '.join(ACT_ON)} (a comma list)"
        )
    return {ACT_ON[k] for k in kinds}


def impute(value: Any, tool: str) -> str:
    """The imputation strategy: ``none`` (default), ``median``, ``mean`` or ``mode``."""
    strategy = "none" if value is None else value
    if strategy not in IMPUTE:
        raise DataQualityError(
            f"{tool}: setting 'impute' must be one of {', '.join(IMPUTE)}, got {value!r}"
        )
    return str(strategy)


def columns_in(wanted: list[str], columns: Sequence[str], key: str, tool: str) -> list[str]:
    """Check that every name of setting ``key`` is a column of the data."""
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise DataQualityError(
            f"{tool}: setting '{key}' names {missing}, not columns of the data"
            f" (columns: {', '.join(columns)})"
        )
    return wanted


#: Settings that only validate mode reads (learn mode refuses them: never silently ignored).
VALIDATE_ONLY = ("rules", "act")
#: Settings that only learn mode reads (validate mode applies the saved rules as they are).
#: (``threshold`` and ``max_rounds`` are not among them: ``dq.load`` fills in their defaults;
#: validate mode runs one round whatever they say.)
LEARN_ONLY = ("iqr_k", "extreme_k", "rare_share", "act_on", "impute", "fill", "range_action")


def mode(state: Mapping[str, Any], tool: str) -> str:
    """The run's ``mode`` (``learn`` by default), checked against the settings given.

    Validate mode needs ``rules`` (a path) and refuses the settings only learn mode reads;
    learn mode refuses ``rules`` and ``act``. ``act`` must be a boolean.
    """
    value = state.get("mode") or "learn"
    if value not in MODES:
        valid = ", ".join(MODES)
        raise DataQualityError(f"{tool}: setting 'mode' must be one of {valid}, got {value!r}")
    if value == "learn":
        given = [k for k in VALIDATE_ONLY if state.get(k) is not None]
        if given:
            raise DataQualityError(
                f"{tool}: setting(s) {given} are read in validate mode only; add -s mode=validate"
                " to check the data against a rules file"
            )
        return value
    if not isinstance(state.get("rules"), str) or not state["rules"]:
        raise DataQualityError(
            f"{tool}: validate mode needs 'rules', the path of a rules file"
            " (e.g. -s rules=wf-output/<run>/rules.json from a learn run)"
        )
    given = [k for k in LEARN_ONLY if state.get(k) is not None]
    if given:
        raise DataQualityError(
            f"{tool}: setting(s) {given} are read in learn mode only; validate mode applies"
            " the rules file as it is (edit it to change what a rule does)"
        )
    act(state.get("act"), tool)
    return value


def act(value: Any, tool: str) -> bool:
    """The ``act`` setting: true (default) or false."""
    if value is None:
        return True
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise DataQualityError(f"{tool}: setting 'act' must be true or false, got {value!r}")
