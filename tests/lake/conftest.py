"""The lake's services for the tests in this folder: one real PostgreSQL cluster (the DuckLake catalog) and
one real SeaweedFS S3 server (the data), started once per test session on free loopback ports
(cluster/services.py); each test module makes its own lake in its own catalog database and bucket prefix."""
from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from catalogue import datasets

from etl import lake


@pytest.fixture(scope="session")
def services(tmp_path_factory):
    from cluster.services import ObjectStore, Postgres, ServiceError

    root = tmp_path_factory.mktemp("lake")
    try:
        pg = Postgres(root / "pg").start()
    except ServiceError as exc:
        pytest.fail(f"PostgreSQL could not be started (make system-deps installs it): {exc}")
    s3 = ObjectStore(root / "s3").start()
    env = {"PBKPI_LAKE_PG_PASSWORD": pg.password, "PBKPI_LAKE_S3_KEY_ID": s3.key_id, "PBKPI_LAKE_S3_SECRET": s3.secret}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield pg, s3
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    s3.stop()
    pg.stop()


def lake_url(pg, s3, db: str, prefix: str) -> lake.LakeURL:
    return lake.parse(f"ducklake+postgres://{pg.user}@127.0.0.1:{pg.port}/{db}"
                      f"?data_path=s3://lake/{prefix}/&s3_endpoint={s3.endpoint}&s3_use_ssl=false")


def kpi_file(demo: Path, path: Path, month_offset: int, headers: dict[str, str] | None = None) -> tuple[str, int]:
    """The KPI monthly file of every unit for the month `month_offset` months after the demo's last (each
    test its own months, none in the future), with the contract's Chinese headers (or `headers`: contract
    id → the file's own header). Returns (month, units)."""
    con = duckdb.connect(str(demo), read_only=True)
    cols = [c.id for c in datasets()["kpi_monthly"].columns if c.id != "business_unit_name"]
    frame = con.execute(f"""SELECT {', '.join(c if c != 'month' else f"strftime(month + INTERVAL {month_offset} MONTH, '%Y-%m') AS month" for c in cols)}
                            FROM fct_kpi_monthly WHERE month = (SELECT max(month) FROM fct_kpi_monthly)""").df()
    con.close()
    names = {c.id: c.zh for c in datasets()["kpi_monthly"].columns}
    frame.columns = [(headers or {}).get(c, names[c]) for c in cols]
    frame.to_csv(path, index=False)
    return str(frame.iloc[0, cols.index("month")]), len(frame)
