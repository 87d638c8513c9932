"""数据管理 Data: upload files through the same ETL, see what was rejected and why, coverage, templates."""
import io
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import streamlit as st

import settings
from etl.errors import EtlError
from etl.load import load_files
from etl.templates import write_templates
from application import warm
from application.views import data as data_view
from ui import charts, layout, session, signin
from ui.i18n import lang, tr


@st.cache_data(show_spinner=False, max_entries=2)
def templates_zip(lang_: str) -> bytes:
    """The blank Excel templates, zipped (built once per language: openpyxl takes a while)."""
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(buf, "w") as zf:
        for p in write_templates(Path(tmp), lang_):
            zf.write(p, p.name)
    return buf.getvalue()


layout.header("page.data.title", "page.data.caption", needs_rows=False)

st.subheader(tr("page.data.upload"))
if not signin.may("upload"):
    files = None
    st.info(tr("page.data.no_upload"))
elif not signin.current().company:
    files = None
    st.info(tr("page.data.upload_company_only"))
else:
    files = st.file_uploader(tr("page.data.uploader"), type=["csv", "xlsx", "xls"], accept_multiple_files=True, key="dt_files")
if files and st.button(tr("page.data.load"), type="primary", key="dt_load"):
    too_big = [f.name for f in files if f.size > settings.max_upload_bytes()]
    if too_big:
        st.error(tr("page.data.too_big", files="、".join(too_big), mb=settings.max_upload_bytes() // 1048576))
    else:
        with tempfile.TemporaryDirectory() as tmp, st.spinner(tr("page.data.loading")):
            paths = []
            for i, f in enumerate(files):
                p = Path(tmp) / f"{i:03d}{Path(f.name).suffix.lower()}"
                p.write_bytes(f.getbuffer())
                paths.append(p)
            try:
                results = load_files(paths, settings.db_path(), labels=[f.name for f in files])
            except EtlError as exc:  # the warehouse as a whole refused (busy, newer schema): nothing changed
                st.error(layout.md_escape(str(exc)))
                layout.stop()
        if any(r.rows_loaded for r in results):
            warm.start_background(settings.db_path())
        signin.audit("upload", files=[{"file": r.file, "loaded": r.rows_loaded, "rejected": r.rows_rejected,
                                       "error": r.error} for r in results])
        st.session_state["dt_results"] = [r.to_dict() for r in results]
        st.rerun()

for r in st.session_state.get("dt_results", []):
    if r["error"]:
        st.error(layout.md_escape(f"{r['file']}：{r['error']}"))
        continue
    st.success(tr("page.data.result", file=layout.md_escape(r["file"]), kind=r["kind"], loaded=r["rows_loaded"], rejected=r["rows_rejected"],
                  skipped=r["rows_skipped"]))
    for n in r["notes"]:
        st.caption("· " + layout.md_escape(n))
    if r["rejects"]:
        rj = pd.DataFrame(r["rejects"]).rename(columns={"sheet": tr("table.sheet"), "row": tr("table.row"), "reason": tr("table.reason")})
        st.dataframe(rj, hide_index=True)
        layout.download_csv(pd.DataFrame(r["rejects"]), f"rejects_{Path(r['file']).stem}", key=f"dl_rj_{r['load_id']}")

st.subheader(tr("page.data.templates"))
st.download_button(tr("page.data.download_templates"), templates_zip(lang()), file_name=f"pbkpi_templates_{lang()}.zip",
                   mime="application/zip", key="dt_tpl")

vm = data_view.view(session.context())
if vm.has_data:
    st.subheader(tr("page.data.history"))
    st.dataframe(vm.history.rename(columns={"load_id": "#", "file_name": tr("table.file"), "kind": tr("table.kind"),
                                            "rows_loaded": tr("table.loaded"), "rows_rejected": tr("table.rejected"),
                                            "rows_skipped": tr("table.skipped"), "loaded_at": tr("table.time")}), hide_index=True)
    if len(vm.rejects):
        with st.expander(tr("page.data.all_rejects", n=len(vm.rejects))):
            st.dataframe(vm.rejects.drop(columns=["raw"]), hide_index=True)
            layout.download_csv(vm.rejects, "rejects_all", key="dl_rj_all")
    st.subheader(tr("page.data.coverage"))
    shown = vm.coverage["business_unit_id"].nunique()
    if shown < vm.coverage_units:
        st.caption(tr("page.data.coverage_worst", shown=shown, total=f"{vm.coverage_units:,}"))
    layout.plot(charts.coverage_heatmap(vm.coverage, height=max(400, 14 * shown)), "dt_cov")
    st.caption(tr("page.data.coverage_note"))
