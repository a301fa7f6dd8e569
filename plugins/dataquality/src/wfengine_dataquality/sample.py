"""A deterministic generator of customer data with planted, counted problems.

``examples/data/customers.csv`` and the benchmark's large files come from here. The
same ``rows`` and ``seed`` always give the same bytes, and :func:`generate_customers`
also returns a manifest: for each planted problem, the 1-based row numbers it was
planted in (row 1 is the first data row, line 2 of the CSV). Every problem is planted
in its own rows, so the counts add up exactly.

Run ``python -m wfengine_dataquality.sample --rows 3000 --seed 7 customers.csv``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

import polars as pl

#: Planted problems per 3,000 rows; scaled (rounded) for other sizes.
PROBLEMS_PER_3000: dict[str, int] = {
    "duplicate_row": 40,  # exact copy of an earlier clean row -> dropped as duplicate
    "name_null": 25,  # name missing -> kept (name has missing values: optional)
    "email_malformed": 30,  # not an e-mail address -> quarantined
    "age_text": 20,  # age written as text ('unknown', 'thirty') -> quarantined
    "age_outlier": 15,  # -40, 150, 230, 999: 999 is extreme (quarantined), others reported
    "country_unknown": 18,  # a typo outside the country set -> quarantined
    "signup_date_malformed": 22,  # not an ISO date -> quarantined
    "income_null": 35,  # income missing -> kept
    "income_outlier": 12,  # millions are extreme (quarantined); -75,000 is reported
    "plan_null": 30,  # plan missing -> kept
    "orders_null": 20,  # orders missing -> kept
}

#: The (kind, column) of the dq.detect findings each planted problem shows up as; the
#: counts of a problem's findings add up to its planted rows.
FINDING_OF_PROBLEM: dict[str, tuple[tuple[str, str | None], ...]] = {
    "duplicate_row": (("duplicate", None),),
    "name_null": (("null", "name"),),
    "email_malformed": (("malformed", "email"),),
    "age_text": (("malformed", "age"),),
    "age_outlier": (("extreme", "age"), ("outlier", "age")),
    "country_unknown": (("unexpected_value", "country"),),
    "signup_date_malformed": (("malformed", "signup_date"),),
    "income_null": (("null", "income"),),
    "income_outlier": (("extreme", "income"), ("outlier", "income")),
    "plan_null": (("null", "plan"),),
    "orders_null": (("null", "orders"),),
}

COLUMNS = [
    "customer_id",
    "name",
    "email",
    "age",
    "country",
    "signup_date",
    "income",
    "plan",
    "orders",
    "active",
]

_FIRST = "anna ben clara david emma felix greta hugo ida jonas karla leon mia noah olga paul rosa"
_FIRST += " sam tara uwe vera will xenia yusuf zoe"
_LAST = "schmidt miller garcia rossi dubois jansen novak kowalski silva larsen ito chen okafor"
_LAST += " haddad fischer weber moreau martin"
_DOMAINS = ["example.com", "mail.example.org", "corp.example.net"]
_COUNTRIES = ["US", "DE", "FR", "GB", "NL", "ES", "IT", "SE"]
_COUNTRY_WEIGHTS = [30, 20, 12, 12, 8, 7, 6, 5]
#: Typos, each planted in turn: at 3,000 rows each occurs twice (typo-like, a violation).
COUNTRY_TYPOS = [
    "Germnay",
    "Frnace",
    "U.S.",
    "uk",
    "Deutschland",
    "Spian",
    "Itlay",
    "Swedn",
    "Nehterlands",
]
_PLANS = ["free", "pro", "enterprise"]
_PLAN_WEIGHTS = [60, 30, 10]
_AGE_TEXT = ["unknown", "thirty", "?", "forty-two", "n.a."]
_AGE_OUTLIERS = ["-40", "150", "230", "999"]
_INCOME_OUTLIERS = [2_500_000.0, 9_999_999.99, -75_000.0, 5_400_000.5]
_BAD_DATES = ["31/12/2021", "2021-13-45", "yesterday", "03.04.2020", "2020/02/30"]
_EPOCH = dt.date(2018, 1, 1)


def planted_counts(rows: int) -> dict[str, int]:
    """How many rows of each planted problem a file of ``rows`` rows holds."""
    return {kind: round(rows * n / 3000) for kind, n in PROBLEMS_PER_3000.items()}


def _bad_email(rng: random.Random, email: str) -> str:
    user, domain = email.split("@")
    return rng.choice(
        [f"{user}.{domain}", f"{user}@", f"{user} at {domain}", f"{user}@{domain.split('.')[0]}"]
    )


def generate_customers(rows: int = 3000, seed: int = 7) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Make ``rows`` customer rows with planted problems; return the frame and its manifest.

    The manifest holds ``rows``, ``seed``, ``counts`` (per planted problem) and ``rows_by_problem``
    (sorted 1-based row numbers per problem; for ``duplicate_row`` the rows of the copies).
    """
    counts = planted_counts(rows)
    n_dup = counts["duplicate_row"]
    base = rows - n_dup
    planted = sum(n for kind, n in counts.items() if kind != "duplicate_row")
    rng = random.Random(seed)

    ids = list(range(1, base + 1))
    first_names, last_names = _FIRST.split(), _LAST.split()
    firsts = [rng.choice(first_names) for _ in range(base)]
    lasts = [rng.choice(last_names) for _ in range(base)]
    names: list[str | None] = [
        f"{f.title()} {lst.title()}" for f, lst in zip(firsts, lasts, strict=True)
    ]
    emails = [
        f"{f}.{lst}{i}@{rng.choice(_DOMAINS)}" for i, f, lst in zip(ids, firsts, lasts, strict=True)
    ]
    ages = [str(rng.randint(18, 90)) for _ in range(base)]
    countries = rng.choices(_COUNTRIES, weights=_COUNTRY_WEIGHTS, k=base)
    dates = [(_EPOCH + dt.timedelta(days=rng.randint(0, 2000))).isoformat() for _ in range(base)]
    incomes: list[float | None] = [round(rng.uniform(20_000, 150_000), 2) for _ in range(base)]
    plans: list[str | None] = list(rng.choices(_PLANS, weights=_PLAN_WEIGHTS, k=base))
    orders: list[int | None] = [rng.randint(0, 50) for _ in range(base)]
    active = [rng.random() < 0.7 for _ in range(base)]

    # Each problem gets its own base rows; duplicates copy rows that have no problem.
    chosen = rng.sample(range(base), planted + n_dup)
    by_problem: dict[str, list[int]] = {}
    start = 0
    for kind, n in counts.items():
        by_problem[kind] = chosen[start : start + n]
        start += n
    for i in by_problem["name_null"]:
        names[i] = None
    for i in by_problem["email_malformed"]:
        emails[i] = _bad_email(rng, emails[i])
    for i in by_problem["age_text"]:
        ages[i] = rng.choice(_AGE_TEXT)
    for i in by_problem["age_outlier"]:
        ages[i] = rng.choice(_AGE_OUTLIERS)
    for n, i in enumerate(by_problem["country_unknown"]):
        countries[i] = COUNTRY_TYPOS[n % len(COUNTRY_TYPOS)]
    for i in by_problem["signup_date_malformed"]:
        dates[i] = rng.choice(_BAD_DATES)
    for i in by_problem["income_null"]:
        incomes[i] = None
    for i in by_problem["income_outlier"]:
        incomes[i] = rng.choice(_INCOME_OUTLIERS)
    for i in by_problem["plan_null"]:
        plans[i] = None
    for i in by_problem["orders_null"]:
        orders[i] = None

    # A copy goes somewhere after its original: sort keys (after_base_row, is_copy, n).
    keys: list[tuple[int, int, int]] = [(i, 0, 0) for i in range(base)]
    for n, src in enumerate(by_problem["duplicate_row"]):
        keys.append((rng.randint(src, base - 1), 1, n))
    sources = [k[0] if k[1] == 0 else by_problem["duplicate_row"][k[2]] for k in keys]
    order = sorted(range(len(keys)), key=keys.__getitem__)
    position = {idx: pos + 1 for pos, idx in enumerate(order)}  # key index -> 1-based row

    def pick(values: list[Any]) -> list[Any]:
        return [values[sources[k]] for k in order]

    frame = pl.DataFrame(
        {
            "customer_id": pick(ids),
            "name": pick(names),
            "email": pick(emails),
            "age": pick(ages),
            "country": pick(countries),
            "signup_date": pick(dates),
            "income": pick(incomes),
            "plan": pick(plans),
            "orders": pick(orders),
            "active": pick(active),
        },
        schema={
            "customer_id": pl.Int64,
            "name": pl.String,
            "email": pl.String,
            "age": pl.String,
            "country": pl.String,
            "signup_date": pl.String,
            "income": pl.Float64,
            "plan": pl.String,
            "orders": pl.Int64,
            "active": pl.Boolean,
        },
    )
    rows_by_problem = {kind: sorted(position[i] for i in idx) for kind, idx in by_problem.items()}
    rows_by_problem["duplicate_row"] = sorted(position[base + n] for n in range(n_dup))
    manifest = {"rows": rows, "seed": seed, "counts": counts, "rows_by_problem": rows_by_problem}
    return frame, manifest


def write_customers(path: str | Path, rows: int = 3000, seed: int = 7) -> dict[str, Any]:
    """Write generated customers to ``path`` (CSV, or Parquet by suffix); return the manifest."""
    frame, manifest = generate_customers(rows, seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.write_parquet(path)
    else:
        frame.write_csv(path)
    return manifest


def manifest_json(manifest: dict[str, Any]) -> str:
    """The manifest as JSON text, one line per planted problem."""
    head = {k: manifest[k] for k in ("rows", "seed")}
    lines = [json.dumps(head)[:-1] + ","]
    lines.append(f' "counts": {json.dumps(manifest["counts"])},')
    lines.append(' "rows_by_problem": {')
    items = list(manifest["rows_by_problem"].items())
    for i, (kind, rows) in enumerate(items):
        lines.append(
            f"  {json.dumps(kind)}: {json.dumps(rows)}" + ("," if i < len(items) - 1 else "")
        )
    lines += [" }", "}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Command line: write a customers file and print (or save) its manifest."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="file to write (.csv or .parquet)")
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--manifest", help="also write the manifest to this JSON file")
    args = parser.parse_args(argv)
    manifest = write_customers(args.path, args.rows, args.seed)
    if args.manifest:
        Path(args.manifest).write_text(manifest_json(manifest))
    print(json.dumps(manifest["counts"]))


if __name__ == "__main__":
    main()
