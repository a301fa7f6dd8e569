"""dq.load detects a CSV's encoding, separator, decimal mark and header line, or takes them."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from wfengine_dataquality import DataQualityError, load
from wfengine_dataquality.io import read_frame
from wfengine_dataquality.read_options import ReadOptions
from wfengine_dataquality.sniff import SAMPLE_BYTES, detect_separator, sniff_csv

GERMAN = "Name;Stadt;Betrag\nJürgen Müller;Köln;1,5\nÄnne Groß;Düsseldorf;2,75\nZoë;Zürich;3\n"


def _load(tmp_path: Path, data: bytes, **state: Any) -> tuple[dict[str, Any], pl.DataFrame]:
    src = tmp_path / "in.csv"
    src.write_bytes(data)
    update = load({"source": str(src), "output_dir": str(tmp_path / "out"), **state})
    return update, read_frame(update["data_path"], "test").drop("_row")


@pytest.mark.parametrize(
    ("sep", "name"), [(",", "comma"), (";", "semicolon"), ("\t", "tab"), ("|", "pipe")]
)
def test_the_separator_is_detected(tmp_path: Path, sep: str, name: str) -> None:
    rows = [["id", "city", "note"], ["1", "Paris", "likes a, b"], ["2", "Oslo", "x; y"]]
    text = "\n".join(sep.join(f'"{v}"' if sep in v else v for v in row) for row in rows)
    update, frame = _load(tmp_path, (text + "\n").encode())
    assert frame.columns == ["id", "city", "note"], name
    assert frame.get_column("note").to_list() == ["likes a, b", "x; y"]
    assert update["read_info"]["sep"] == sep
    assert "sep" in update["read_info"]["detected"]


def test_a_tab_separated_file_named_csv_is_not_one_column(tmp_path: Path) -> None:
    update, frame = _load(tmp_path, b"a\tb\tc\n1\t2,5\tx, y\n3\t4\tz\n")
    assert frame.columns == ["a", "b", "c"]
    assert update["schema"]["a"] == "Int64"


def test_a_given_separator_wins(tmp_path: Path) -> None:
    # Read with ',' this would be two regular columns; the user knows better.
    update, frame = _load(tmp_path, b"a;b,c\n1;2,3\n4;5,6\n", sep=";")
    assert frame.columns == ["a", "b,c"]
    assert "sep" not in update["read_info"]["detected"]
    _, frame = _load(tmp_path, b"a\tb\n1\t2\n", sep="tab")
    assert frame.columns == ["a", "b"]


def test_own_scoring_beats_csv_sniffer_on_metadata_headed_files() -> None:
    # csv.Sniffer raises on these; the documented measurement in sniff.py.
    assert detect_separator("Export, 2024\nStation: X\n\nid;price\n1;1,5\n2;2\n") == ";"
    assert detect_separator("# by R\n# units: cm\na,b,c\n1,2,3\n4,5,6\n") == ","
    assert detect_separator("x;y\n1,5;2\n2,5;3\n3,5;4\n") == ";"
    assert detect_separator("justone\nvalue\n") == ","


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("utf-16", "utf-16"),
        ("utf-16-le", "utf-16-le"),
        ("cp1252", "cp1252"),
        ("latin-1", "cp1252"),
    ],
)
def test_the_encoding_is_detected(tmp_path: Path, encoding: str, expected: str) -> None:
    update, frame = _load(tmp_path, GERMAN.encode(encoding))
    assert update["read_info"]["encoding"] == expected
    assert frame.columns == ["Name", "Stadt", "Betrag"]  # no BOM glued to the first name
    assert frame.get_column("Name").to_list() == ["Jürgen Müller", "Änne Groß", "Zoë"]
    assert frame.get_column("Stadt").to_list() == ["Köln", "Düsseldorf", "Zürich"]


def test_a_given_encoding_wins(tmp_path: Path) -> None:
    data = "name,city\nΑθήνα,Ελλάδα\n".encode("cp1253")
    update, frame = _load(tmp_path, data, encoding="cp1253")
    assert frame.row(0) == ("Αθήνα", "Ελλάδα")
    assert update["read_info"]["encoding"] == "cp1253"
    with pytest.raises(DataQualityError, match="'encoding' 'klingon' is not a known"):
        _load(tmp_path, data, encoding="klingon")


def test_only_a_bounded_sample_is_sniffed_and_a_late_bad_byte_is_a_clear_error(
    tmp_path: Path,
) -> None:
    src = tmp_path / "big.csv"
    line = b"id,name\n" + b"1,plain ascii text\n" * (SAMPLE_BYTES // 18 + 100)
    src.write_bytes(line + b"2,caf\xe9\n")
    assert sniff_csv(src, ReadOptions()).encoding == "utf-8"  # the byte is past the sample
    with pytest.raises(DataQualityError) as caught:
        load({"source": str(src), "output_dir": str(tmp_path / "out")})
    message = str(caught.value)
    assert "later bytes are not" in message and "-s encoding=cp1252" in message
    assert "unbalanced quotes" not in message
    update = load({"source": str(src), "output_dir": str(tmp_path / "o"), "encoding": "cp1252"})
    assert read_frame(update["data_path"], "t").get_column("name")[-1] == "café"


def test_decimal_comma_is_detected_and_read_as_numbers(tmp_path: Path) -> None:
    text = "id;price;weight;label\n1;1,5;1.234,5;a,b\n2;-2,25;3;c\n3;4;0,5;d\n"
    update, frame = _load(tmp_path, text.encode("cp1252"))
    info = update["read_info"]
    assert (info["sep"], info["decimal"]) == (";", ",")
    assert update["schema"] == {
        "id": "Int64",
        "price": "Float64",
        "weight": "Float64",
        "label": "String",
    }
    assert frame.get_column("price").to_list() == [1.5, -2.25, 4.0]
    assert frame.get_column("weight").to_list() == [1234.5, 3.0, 0.5]
    assert info["conversions"]["price"] == {"type": "Float64", "decimal": ","}


def test_decimal_setting(tmp_path: Path) -> None:
    # One comma number against two dot numbers: detected '.', so 'v' stays text ...
    text = b"v|w\n1,5|2.5\n2|3.5\n"
    update, _ = _load(tmp_path, text)
    assert update["read_info"]["decimal"] == "."
    assert update["schema"]["v"] == "String"
    # ... unless the user says the decimal mark is ','; then 'w' (1.5 style) is text.
    update, frame = _load(tmp_path, text, decimal=",")
    assert update["schema"] == {"v": "Float64", "w": "String"}
    assert frame.get_column("v").to_list() == [1.5, 2.0]
    with pytest.raises(DataQualityError, match="'decimal' ',' needs another separator"):
        _load(tmp_path, text, decimal=",", sep=",")
    with pytest.raises(DataQualityError, match="'decimal' must be '.' or ','"):
        _load(tmp_path, text, decimal="dot")


def test_metadata_lines_above_the_header_are_skipped(tmp_path: Path) -> None:
    text = (
        "Exported from ACME weather, 2024-01-02\n"
        "# station: Berlin\n"
        "\n"
        "Report;;;\n"
        "day;temp;rain;wind\n"
        "2024-01-01;1,5;0;12\n"
        "2024-01-02;-0,5;2,5;30\n"
    )
    update, frame = _load(tmp_path, text.encode())
    assert frame.columns == ["day", "temp", "rain", "wind"]
    assert update["read_info"]["header_row"] == 5
    assert update["read_info"]["skipped_lines"] == 4
    assert update["schema"]["day"] == "Date"
    assert frame.get_column("temp").to_list() == [1.5, -0.5]
    assert frame.height == 2


def test_header_row_setting_counts_lines_from_one(tmp_path: Path) -> None:
    text = b"a,b,c\nmeta,data,here\nx,y,z\n1,2,3\n"
    update, frame = _load(tmp_path, text, header_row=3)
    assert frame.columns == ["x", "y", "z"]
    assert frame.row(0) == (1, 2, 3)
    assert update["read_info"]["header_row"] == 3
    assert "header_row" not in update["read_info"]["detected"]
    _, frame = _load(tmp_path, text, header_row="1")
    assert frame.columns == ["a", "b", "c"] and frame.height == 3
    for bad in (0, -1, "first", 1.5, True):
        with pytest.raises(DataQualityError, match="'header_row' must be the header's line"):
            _load(tmp_path, text, header_row=bad)


def test_a_header_narrower_than_the_data_is_not_skipped_silently(tmp_path: Path) -> None:
    # R's write.table leaves the row-name column out of the header: not metadata.
    with pytest.raises(DataQualityError) as caught:
        _load(tmp_path, b"a,b\n1,2,3\n2,3,4\n")
    assert "header on line 1" in str(caught.value)


def test_a_parse_error_names_the_layout_it_read_with(tmp_path: Path) -> None:
    with pytest.raises(DataQualityError) as caught:
        _load(tmp_path, b"a;b\n1;2\n3;4;5\n4;5\n")
    message = str(caught.value)
    assert "read as separator ';', encoding utf-8, header on line 1" in message
    assert "unbalanced quotes" in message


def test_sniffing_reads_no_more_than_the_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "big.csv"
    src.write_bytes(b"a;b\n" + b"1;2\n" * (SAMPLE_BYTES // 2))
    reads: list[int] = []
    real_open = Path.open

    def spy(self: Path, *args: Any, **kwargs: Any) -> Any:
        handle = real_open(self, *args, **kwargs)
        real_read = handle.read

        def read(n: int = -1) -> bytes:
            reads.append(n)
            return real_read(n)

        handle.read = read
        return handle

    monkeypatch.setattr(Path, "open", spy)
    assert sniff_csv(src, ReadOptions()).sep == ";"
    assert reads and all(0 < n <= SAMPLE_BYTES + 1 for n in reads)


def test_codecs_names_are_normalised(tmp_path: Path) -> None:
    update, _ = _load(tmp_path, "a\né\n".encode("latin-1"), encoding="Latin-1")
    assert update["read_info"]["encoding"] == codecs.lookup("latin-1").name


def test_single_quoted_names_and_fields_lose_their_quotes(tmp_path: Path) -> None:
    # statsmodels' anes96.csv: a tab-separated file whose header is 'popul'\t'TVnews'...
    data = b"'popul'\t'TVnews'\t'city'\n0\t7\t'Ann Arbor'\n190\t1\t'a\tb'\n31\t7\tOslo\n"
    update, frame = _load(tmp_path, data)
    assert frame.columns == ["popul", "TVnews", "city"]
    assert frame.get_column("city").to_list() == ["Ann Arbor", "a\tb", "Oslo"]
    assert update["schema"]["popul"] == "Int64"
    info = update["read_info"]
    assert info["quote"] == "'" and "quote" in info["detected"] and info["sep"] == "\t"


def test_apostrophes_keep_the_double_quote(tmp_path: Path) -> None:
    update, frame = _load(tmp_path, b"name,said\n'Tis,it's 'fine'\nAnn,\"a, b\"\n")
    assert update["read_info"]["quote"] == '"'
    assert frame.get_column("said").to_list() == ["it's 'fine'", "a, b"]
    assert frame.get_column("name").to_list() == ["'Tis", "Ann"]


def test_a_given_quote_wins_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    update, frame = _load(tmp_path, b"'a','b'\n'x',1\n", quote='"')
    assert frame.columns == ["'a'", "'b'"] and "quote" not in update["read_info"]["detected"]
    with pytest.raises(DataQualityError, match=r"setting 'quote' must be one of"):
        _load(tmp_path, b"a,b\n1,2\n", quote="`")


def test_an_apostrophe_after_the_sample_names_the_quote_setting(tmp_path: Path) -> None:
    rows = "".join(f"'{i}'\t'x'\n" for i in range(SAMPLE_BYTES // 8))
    data = f"'a'\t'b'\n{rows}1\tit's\n2\tx\n".encode()
    with pytest.raises(DataQualityError, match=r"quote \"'\".*set quote, e\.g\. -s quote="):
        _load(tmp_path, data)
