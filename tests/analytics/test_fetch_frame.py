"""Query results converted piece by piece equal DuckDB's own whole-result conversion."""
import duckdb
import pandas as pd
import pytest

from application.warehouse import CHUNK_VECTORS, fetch_frame

SQL = """SELECT i, CASE WHEN i > {null_from} THEN NULL ELSE i * 0.5 END AS x,
                CASE WHEN i % 7 = 0 THEN NULL ELSE 'u' || (i % 13) END AS name,
                DATE '2020-01-01' + CAST(i % 400 AS INTEGER) AS day, i % 2 = 0 AS flag
         FROM range({n}) t(i)"""


@pytest.mark.parametrize("n,null_from", [(0, 0), (10, 5), (CHUNK_VECTORS * 2048 * 2 + 17, CHUNK_VECTORS * 2048 + 3)])
def test_same_frame_as_df(n, null_from):
    con = duckdb.connect()
    sql = SQL.format(n=n, null_from=null_from)
    pd.testing.assert_frame_equal(fetch_frame(con.execute(sql)), con.execute(sql).df())
