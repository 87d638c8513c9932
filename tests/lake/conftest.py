"""The lake's services for the tests in this folder: one real PostgreSQL cluster (the DuckLake catalog) and
one real SeaweedFS S3 server (the data), started once per test session on free loopback ports
(cluster/services.py); each test module makes its own lake in its own catalog database and bucket prefix."""
from __future__ import annotations

import os

import pytest

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
