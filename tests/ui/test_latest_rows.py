"""The what-if page's baseline rows, picked period-first, equal the latest period of the filtered panel."""
import pandas as pd
import pytest

from ui import data, state


@pytest.mark.parametrize("grain", ["month", "quarter"])
def test_latest_rows_equal_the_filtered_panels_last_period(demo_db, monkeypatch, grain):
    monkeypatch.setenv("PBKPI_DB", str(demo_db))
    v = data.version()
    periods = sorted(data.panel(v, grain)["period"].unique())
    unit = data.business_units(v)["business_unit_id"].iloc[3]
    cases = [((), (), None, None), (("供电所",), (), None, None), ((), ("农村", "城区"), None, periods[-5]),
             (("供电所", "营销服务"), ("农村",), None, periods[10]), ((), (), unit, periods[-2]), (("调度",), ("县城",), None, None)]
    for types, regions, u, end in cases:
        f = state.Filters(grain, periods[0], end or periods[-1], types, regions, u)
        rows = state.filtered_panel(v, f, with_unit=True)
        want = rows[rows["period"] == rows["period"].max()] if len(rows) else rows
        pd.testing.assert_frame_equal(state.latest_rows(v, f), want)
