"""The lake backend (etl/lake.py) against real services: PostgreSQL as the DuckLake catalog and SeaweedFS
as the S3 object store, started for this module on free loopback ports (cluster/services.py).

What is checked: the URL and its secrets; extensions load from wheels with downloads off; a demo warehouse
migrated into the lake equals the file table for table; every read the application makes gives the same
answer on the file and on the lake (hypothesis over selections); a reader stays on the published snapshot
while the lake is written and only moves when a new snapshot is published; one publisher at a time."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from application.selection import Selection
from application.warehouse import Warehouse
from etl import engine, lake
from tests.lake.conftest import lake_url as _url
from tests.ui.test_pages import PAGES, run_page, texts

pytestmark = [pytest.mark.xdist_group("lake")]


@pytest.fixture(scope="module")
def migrated(services, demo_db):
    pg, s3 = services
    url = _url(pg, s3, pg.create_database("demo"), "demo")
    done = lake.migrate(demo_db, url)
    return url, done


# ------------------------------------------------------------------------------------------ the URL

@given(user=st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True), port=st.integers(1, 65535),
       db=st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True), bucket=st.from_regex(r"[a-z0-9][a-z0-9-]{2,20}", fullmatch=True),
       ssl=st.booleans())
def test_lake_urls_parse_to_what_they_say(user, port, db, bucket, ssl):
    text = (f"ducklake+postgres://{user}@db.example:{port}/{db}?data_path=s3://{bucket}/pbkpi"
            f"&s3_endpoint=minio.example:9000&s3_use_ssl={'true' if ssl else 'false'}")
    u = lake.parse(text)
    assert (u.user, u.host, u.port, u.dbname, u.data_path, u.s3_endpoint, u.s3_use_ssl) == (
        user, "db.example", port, db, f"s3://{bucket}/pbkpi/", "minio.example:9000", ssl)
    assert str(u) == text and lake.is_lake(text)
    assert f"port='{port}'" in u.libpq() and "password" not in u.libpq()


@pytest.mark.parametrize("text, words", [
    ("ducklake+postgres://u:hunter2@h/db?data_path=s3://b/p", "密码"),
    ("ducklake+postgres://h/db?data_path=s3://b/p", "用户名"),
    ("ducklake+postgres://u@h/?data_path=s3://b/p", "数据库"),
    ("ducklake+postgres://u@h/db", "data_path"),
    ("ducklake+postgres://u@h/db?data_path=relative/dir", "绝对路径"),
    ("ducklake+postgres://u@h/db?data_path=s3://b/p&colour=red", "colour"),
    ("ducklake+postgres://u@h/db?data_path=s3://b/p&s3_use_ssl=maybe", "s3_use_ssl"),
    ("ducklake+postgres://u@h/db?data_path=s3://bucket/", "results_path"),
    ("ducklake+postgres://u@h/db?data_path=s3://b/p/&results_path=s3://b/p/cache/", "results_path"),
])
def test_bad_lake_urls_say_what_to_fix(text, words):
    with pytest.raises(lake.LakeError) as err:
        lake.parse(text)
    assert words in str(err.value)
    assert "hunter2" not in str(err.value)


def test_pbkpi_db_takes_a_lake_url_and_never_echoes_a_password(monkeypatch):
    import settings

    monkeypatch.setenv("PBKPI_DB", "ducklake+postgres://u@h:5433/db?data_path=s3://b/p")
    assert isinstance(settings.warehouse(), lake.LakeURL)
    with pytest.raises(settings.SettingError) as err:  # file-only commands refuse the lake, saying what to do
        settings.db_path()
    assert "migrate" in str(err.value)
    monkeypatch.setenv("PBKPI_DB", "ducklake+postgres://u:s3cret-pw@h/db?data_path=s3://b/p")
    problems = settings.check()
    assert any("PBKPI_DB" in p for p in problems) and not any("s3cret-pw" in p for p in problems)
    monkeypatch.delenv("PBKPI_LOG_FILE", raising=False)  # the log file's default is derived from PBKPI_DB
    assert not any("s3cret-pw" in r["value"] + str(r["problem"]) for r in settings.listing())


def test_secrets_file_must_be_private_and_environment_wins(tmp_path, monkeypatch):
    f = tmp_path / "lake.toml"
    f.write_text('[postgres]\npassword = "from-file"\n[s3]\nkey_id = "k"\nsecret = "s"\n')
    for var in ("PBKPI_LAKE_PG_PASSWORD", "PBKPI_LAKE_S3_KEY_ID", "PBKPI_LAKE_S3_SECRET"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PBKPI_LAKE_SECRETS", str(f))
    os.chmod(f, 0o644)
    with pytest.raises(lake.LakeError, match="chmod 600"):
        lake.credentials()
    os.chmod(f, 0o600)
    c = lake.credentials()
    assert (c.pg_password, c.s3_key_id, c.s3_secret) == ("from-file", "k", "s")
    assert "from-file" not in repr(c)
    monkeypatch.setenv("PBKPI_LAKE_PG_PASSWORD", "from-env")
    assert lake.credentials().pg_password == "from-env"


# ------------------------------------------------------------------------------------------ extensions

def test_connections_never_download_and_extensions_come_from_wheels():
    con = engine.connect()
    settings_now = dict(con.execute("SELECT name, value FROM duckdb_settings() WHERE name LIKE 'auto%known_extensions'").fetchall())
    assert settings_now == {"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}
    engine.load(con, "ducklake", "postgres_scanner", "httpfs")
    loaded = dict(con.execute("SELECT extension_name, install_path FROM duckdb_extensions() WHERE loaded").fetchall())
    for name in ("ducklake", "postgres_scanner", "httpfs"):
        assert name in loaded
        assert engine.extension_file(name).is_file()
    with pytest.raises(duckdb.Error):  # with auto-install off, an extension not loaded is not fetched
        engine.connect().execute("SELECT * FROM read_parquet('https://example.invalid/x.parquet')")


# ------------------------------------------------------------------------------------------ migration

def test_migration_copies_every_table_and_publishes_it(migrated, demo_db, services):
    url, done = migrated
    src = duckdb.connect(str(demo_db), read_only=True)
    try:
        tables = {t for (t,) in src.execute("SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'").fetchall()}
        for t in tables & set(lake.PROVINCE_TABLES) | {"panel_month", "panel_quarter"}:  # independent counts
            assert done["tables"][t] == src.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0], t
    finally:
        src.close()
    cat = lake.catalog(url)
    try:
        assert lake.published(cat) == done["snapshot"]
    finally:
        cat.close()
    with pytest.raises(lake.LakeError, match="已有数据表"):  # a lake is filled by migration once
        lake.migrate(demo_db, url)


def test_migrate_command_line(services, demo_db, tmp_path):
    import shutil
    import subprocess
    import sys

    pg, s3 = services
    url = _url(pg, s3, pg.create_database("cli"), "cli")
    db = tmp_path / "w.duckdb"
    shutil.copyfile(demo_db, db)
    out = subprocess.run([sys.executable, "-m", "etl", "migrate", "--db", str(db), "--to", str(url)],
                         capture_output=True, text=True, env={**os.environ, "PBKPI_LOG_FILE": "off"}, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "published snapshot" in out.stdout and pg.password not in out.stdout + out.stderr


# ------------------------------------------------------------------------------------------ one read path

def _frames_equal(a, b) -> None:
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False)
    else:
        assert a == b


@pytest.fixture(scope="module")
def both(migrated, demo_db):
    url, _ = migrated
    return Warehouse(demo_db).snapshot(), Warehouse(str(url)).snapshot()


def test_lake_snapshot_reads_like_the_file(both):
    f, l = both
    assert l.version.endswith("@" + str(lake.published(lake.catalog(l.warehouse.source.url))))
    for name in ("has_data", "meta", "business_units", "org_nodes", "coverage", "load_history", "kpi_headers"):
        _frames_equal(getattr(f, name)(), getattr(l, name)())
    for grain in ("month", "quarter"):
        _frames_equal(f.panel(grain), l.panel(grain))
        assert f.periods(grain) == l.periods(grain)
    unit = f.business_units()["business_unit_id"].iloc[3]
    _frames_equal(f.branches(unit), l.branches(unit))
    node = f.org_nodes()["unit_id"].iloc[1]
    assert f.units_beneath(frozenset({node})) == l.units_beneath(frozenset({node}))


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_selection_reads_the_same_on_both_backends(both, data):
    f, l = both
    types, regions = f.offered()
    periods = f.periods("month")
    start = data.draw(st.sampled_from(periods))
    end = data.draw(st.sampled_from([p for p in periods if p >= start]))
    sel = Selection(grain="month", start=start, end=end,
                    unit_types=tuple(data.draw(st.lists(st.sampled_from(types), unique=True, max_size=2))),
                    regions=tuple(data.draw(st.lists(st.sampled_from(regions), unique=True, max_size=2))))
    _frames_equal(f.rows(sel), l.rows(sel))
    assert f.count(sel) == l.count(sel)
    _frames_equal(f.latest(sel), l.latest(sel))
    org = data.draw(st.sampled_from([None, *f.org_nodes()["unit_id"].tolist()]))
    nf, nl = f.beneath(org), l.beneath(org)
    assert nf.scope == nl.scope
    _frames_equal(nf.rows(sel), nl.rows(sel))


def test_readers_stay_on_the_published_snapshot_until_the_next_publish(migrated, both, demo_db, tmp_path):
    url, done = migrated
    _, reader = both
    before = reader.panel("month")
    changed = tmp_path / "company.duckdb"  # the company reloads its KPI file: 1000 more complaints a month
    import shutil

    shutil.copyfile(demo_db, changed)
    con = duckdb.connect(str(changed))
    con.execute("UPDATE fct_kpi_monthly SET complaints = complaints + 1000")
    con.close()
    pushed = lake.push(changed, url, "company")
    assert pushed > done["snapshot"]
    assert reader.warehouse.version() == reader.version  # pushed, not published: the version does not move
    _frames_equal(before, Warehouse(str(url)).snapshot().panel("month"))

    seen = []

    def read_while_publishing():
        for _ in range(20):
            seen.append(reader.whole()._query("SELECT sum(complaints) AS s FROM panel_month")["s"].iloc[0])

    t = threading.Thread(target=read_while_publishing)
    t.start()
    published = lake.publish_lake(url)
    t.join()
    assert published > pushed
    assert set(seen) == {before["complaints"].sum()}  # a pinned snapshot reads the same while a publish runs
    moved = Warehouse(str(url)).snapshot()
    assert moved.version != reader.version
    diff = (moved.panel("month")["complaints"] - before["complaints"]).dropna()
    assert len(diff) and (diff == 1000).all()
    with lake.publisher(url) as publish:  # a publisher never goes back
        with pytest.raises(lake.LakeError):
            publish(done["snapshot"])


def test_one_publisher_at_a_time(migrated):
    url, _ = migrated
    with lake.publisher(url):
        with pytest.raises(lake.LakeError, match="publisher busy|发布锁"):
            with lake.publisher(url, timeout=0.5):
                pass
    with lake.publisher(url, timeout=0.5):  # released: the next one gets it
        pass


def test_a_lake_that_cannot_be_reached_says_so(services):
    pg, s3 = services
    dead = lake.parse(f"ducklake+postgres://{pg.user}@127.0.0.1:1/nowhere?data_path=s3://lake/x/&s3_endpoint={s3.endpoint}&s3_use_ssl=false")
    with pytest.raises(lake.LakeError) as err:
        lake.catalog(dead)
    assert pg.password not in str(err.value)
    with pytest.raises(lake.LakeError) as err:
        lake.connect(dead)
    assert pg.password not in str(err.value) and "无法连接湖仓" in str(err.value)


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_runs_on_the_lake(migrated, monkeypatch, page):
    url, _ = migrated
    at = run_page(str(url), page, monkeypatch=monkeypatch)
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    assert "无法读取" not in shown
    if page == "pages/data_page.py":  # uploads are load jobs for the province's loader; metrics are not defined here
        assert "装载任务" in shown and "湖仓上的指标" in shown and not at.get("form")


def test_statistics_computed_by_one_server_are_served_by_the_other(migrated):
    """Two dashboard servers of one lake (two processes in production: here two warehouses, stores and
    contexts that share nothing but the lake): what the first computes for the published snapshot, the
    second reads from the lake's shelf in the object store; a new publish starts both afresh."""
    import pickle

    from application.context import Context
    from application.selection import Selection
    from application.views import overview, relationships

    url, _ = migrated
    first, second = Context.open(str(url)), Context.open(str(url))
    assert str(first.store.shelf).startswith("s3://lake/demo-results/")
    sel = Selection()
    jobs = {**overview.jobs(first, sel, overview.DEFAULTS), **relationships.jobs(first, sel, relationships.DEFAULTS)}
    a = first.outcomes(jobs)
    assert first.store.stats["computed"] == len(jobs) and all(o.error is None for o in a.values())
    b = second.outcomes(jobs)
    assert second.store.stats["computed"] == 0 and second.store.stats["from_disk"] == len(jobs)
    for name in jobs:  # the same results, byte for byte
        assert pickle.dumps(a[name].value) == pickle.dumps(b[name].value), name
    lake.publish_lake(url)  # a new published snapshot: nothing kept for the old one is served for it
    third = Context.open(str(url))
    assert third.version != first.version
    third.outcomes({k: j for k, j in list(jobs.items())[:1]})
    assert third.store.stats["computed"] == 1
    assert third.store.prune(third.version) >= 1  # the old snapshot's results leave the shelf


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_lake_that_cannot_be_reached_is_said_not_thrown(services, monkeypatch, lang):
    """Every page is then replaced by the message (app.py registers the message under every page's URL)."""
    from streamlit.testing.v1 import AppTest

    pg, s3 = services
    dead = f"ducklake+postgres://{pg.user}@127.0.0.1:1/nowhere?data_path=s3://lake/x/&s3_endpoint={s3.endpoint}&s3_use_ssl=false"
    monkeypatch.setenv("PBKPI_DB", dead)
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"), default_timeout=120)
    at.query_params["lang"] = lang
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    assert ("无法读取湖仓" if lang == "zh" else "The lake cannot be read") in shown
    assert pg.password not in shown


def test_a_catalog_database_failing_mid_command_is_one_line_not_a_traceback(monkeypatch, capsys):
    """PostgreSQL going away after the lake was reached (psycopg raises mid-publish): `etl` says so in one
    line, with what to do, and exits 2."""
    import psycopg

    from etl.__main__ import main

    def dies(*_, **__):
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(lake, "publish_lake", dies)
    rc = main(["publish", "--to", "ducklake+postgres://u@127.0.0.1:5432/db?data_path=s3://b/p/"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "server closed the connection" in err and "重新运行" in err
