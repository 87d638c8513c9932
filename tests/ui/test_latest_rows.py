"""The what-if page's baseline rows, picked period-first, equal the latest period of the selected rows; the
selected rows equal an independent pandas filter of the whole panel."""
import pandas as pd
import pytest

from application.selection import Selection
from application.warehouse import Warehouse


@pytest.mark.parametrize("grain", ["month", "quarter"])
def test_latest_rows_equal_the_selections_last_period(demo_db, grain):
    snap = Warehouse(demo_db).snapshot()
    panel = snap.panel(grain)
    periods = sorted(panel["period"].unique())
    unit = snap.business_units()["business_unit_id"].iloc[3]
    cases = [((), (), None, None), (("供电所",), (), None, None), ((), ("农村", "城区"), None, periods[-5]),
             (("供电所", "营销服务"), ("农村",), None, periods[10]), ((), (), unit, periods[-2]), (("调度",), ("县城",), None, None)]
    for types, regions, u, end in cases:
        sel = Selection(grain, periods[0], end or periods[-1], types, regions, u)
        rows = snap.rows(sel, with_unit=True)
        want = panel[(panel["period"] >= sel.start) & (panel["period"] <= sel.end)
                     & (panel["unit_type"].isin(types) if types else True) & (panel["region"].isin(regions) if regions else True)
                     & ((panel["business_unit_id"] == u) if u else True)]
        pd.testing.assert_frame_equal(rows, want)
        assert snap.count(sel, with_unit=True) == len(want)
        last = want[want["period"] == want["period"].max()] if len(want) else want
        pd.testing.assert_frame_equal(snap.latest(sel), last)
