"""The loader tests' shared fixture: a warehouse holding the tiny organisation of tests/etl/files.py."""
import pytest

from etl.load import load_files
from tests.etl.files import ORG_ROWS, org_file


@pytest.fixture()
def db(tmp_path):
    db = tmp_path / "w.duckdb"
    (r,) = load_files([org_file(tmp_path)], db)
    assert r.error is None and r.rows_loaded == len(ORG_ROWS)
    return db
