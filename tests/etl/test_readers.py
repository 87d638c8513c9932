"""Encodings and layouts are detected, not guessed by the user."""
import pytest

from etl import readers
from etl.errors import LimitExceeded, UnreadableFile

TEXT = "组织编码,组织名称\nB1,城东供电所党支部\n"


@pytest.mark.parametrize("encoding,expected", [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gbk"),
                                               ("gb18030", "gbk"), ("utf-16", "utf-16")])
def test_encodings_detected(tmp_path, encoding, expected):
    p = tmp_path / "a.csv"
    p.write_bytes(TEXT.encode(encoding))
    (sheet,) = readers.read_file(p)
    assert sheet.encoding == expected
    assert sheet.rows[1] == ["B1", "城东供电所党支部"]


def test_mixed_encodings_refused(tmp_path):
    p = tmp_path / "mixed.csv"
    p.write_bytes("组织编码,组织名称\n".encode("utf-8") + "B1,城东供电所党支部\n".encode("gbk") + b"\xff\x80\n")
    with pytest.raises(UnreadableFile, match="编码"):
        readers.read_file(p)


def test_random_bytes_named_xlsx(tmp_path):
    p = tmp_path / "junk.xlsx"
    p.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(UnreadableFile, match="不是有效的 .xlsx"):
        readers.read_file(p)


def test_macro_workbook_refused(tmp_path):
    p = tmp_path / "m.xlsm"
    p.write_bytes(b"PK\x03\x04whatever")
    with pytest.raises(UnreadableFile, match="宏"):
        readers.read_file(p)


def test_empty_and_unknown_type(tmp_path):
    (tmp_path / "e.csv").write_bytes(b"")
    with pytest.raises(UnreadableFile, match="空文件"):
        readers.read_file(tmp_path / "e.csv")
    (tmp_path / "x.pdf").write_bytes(b"%PDF")
    with pytest.raises(UnreadableFile, match="不支持"):
        readers.read_file(tmp_path / "x.pdf")


def test_size_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("PBKPI_MAX_UPLOAD_MB", "0.001")
    p = tmp_path / "big.csv"
    p.write_text(TEXT * 200, encoding="utf-8")
    with pytest.raises(LimitExceeded, match="超过上限"):
        readers.read_file(p)


def test_column_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("PBKPI_MAX_COLS", "10")
    p = tmp_path / "wide.csv"
    p.write_text(",".join(f"c{i}" for i in range(50)) + "\n", encoding="utf-8")
    with pytest.raises(LimitExceeded, match="列"):
        readers.read_file(p)


@pytest.mark.parametrize("value,expected", [(45478.0, "45478"), (1.5, "1.5"), (None, None), ("  ", None),
                                            ("Ｂ１", "B1"), ("时长（小时）", "时长(小时)"), (True, "1")])
def test_normalize_cell(value, expected):
    assert readers.normalize_cell(value) == expected
