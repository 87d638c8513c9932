"""数据管理 Data: upload files through the same ETL, see what was rejected and why, coverage, templates."""
import io
import json
import re
import tempfile
import zipfile
from pathlib import Path

import pandas as pd
import streamlit as st

import catalogue
import settings
from catalogue import datasets, metrics
from catalogue.defined import definition_from_form
from etl import definitions, jobs
from etl import load as load_mod
from etl import mappings
from etl.errors import EtlError
from etl.load import load_files
from etl.templates import write_templates
from application import warm
from application.views import data as data_view
from ui import charts, layout, session, signin
from ui.i18n import lang, mname, said, tr


@st.cache_data(show_spinner=False, max_entries=2)
def templates_zip(lang_: str) -> bytes:
    """The blank Excel templates, zipped (built once per language: openpyxl takes a while)."""
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(buf, "w") as zf:
        for p in write_templates(Path(tmp), lang_):
            zf.write(p, p.name)
    return buf.getvalue()


layout.header("page.data.title", "page.data.caption", needs_rows=False)
store = mappings.Store()


def staged(files) -> list[tuple[str, Path, int]]:
    """The uploaded files written once into this session's folder: (name, path, bytes)."""
    folder = Path(st.session_state.setdefault("dt_dir", tempfile.mkdtemp(prefix="pbkpi-upload-")))
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for f in files:
        p = folder / f"{f.file_id}{Path(f.name).suffix.lower()}"
        if not p.exists():
            p.write_bytes(f.getbuffer())
        out.append((f.name, p, f.size))
    keep = {p for _, p, _ in out}
    for old in folder.iterdir():  # files taken out of the uploader leave the disk too
        if old not in keep:
            old.unlink(missing_ok=True)
    return out


def recognised(path: Path, label: str):
    """etl.load.recognise, kept for this session per file and mapping-profile version: the mapping step
    reruns the page on every pick, and each file's first rows need reading only once."""
    kept = st.session_state.setdefault("dt_recognised", {})
    key = (str(path), store.version())
    if key not in kept:
        if len(kept) > 50:  # files long gone from the uploader
            kept.clear()
        kept[key] = load_mod.recognise(path, label, store)
    return kept[key]


def kind_name(kind: str | None) -> str:
    return datasets()[kind].zh if kind and lang() == "zh" else (datasets()[kind].en if kind else "")


def readable_preview(df: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The dry run's rows with the template's column names in the page's language, dates without a time."""
    names = {c.id: (c.zh if lang() == "zh" else c.en) for c in datasets()[kind].columns}
    names.update(unit_id=tr("page.data.map.unit"), business_unit_id=tr("page.data.map.unit"))
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]) and (out[col].dropna().dt.normalize() == out[col].dropna()).all():
            out[col] = out[col].dt.strftime("%Y-%m-%d")
    return out.astype(object).where(out.notna(), "").rename(columns=lambda c: names.get(c, c))


def mapping_editor(i: int, label: str, path: Path, sheet) -> None:
    """Map a file's own headers to the contract's columns: suggestions, a dry-run preview, then save."""
    units = st.session_state.setdefault("dt_units", mappings.known_units(settings.db_path()))
    guess_kind, guess_row = st.session_state.setdefault(f"dt_guess_{i}_{path.name}", mappings.guess_kind(sheet, units))
    kinds = list(datasets())
    c1, c2 = st.columns([3, 1])
    kind = c1.selectbox(tr("page.data.map.kind"), kinds, index=kinds.index(guess_kind), format_func=kind_name,
                        key=f"dt_mk_{i}")
    row = c2.number_input(tr("page.data.map.header_row"), 1, min(len(sheet.rows), 30) or 1, guess_row + 1,
                          key=f"dt_mr_{i}") - 1
    headers = [h for h in dict.fromkeys(sheet.rows[row]) if h] if row < len(sheet.rows) else []
    suggestions = {sg.column: sg for sg in mappings.suggest(sheet, kind, row, units)}
    none = tr("page.data.map.none")
    chosen: dict[str, str] = {}
    grid = st.columns(3)
    for k, col in enumerate(datasets()[kind].columns):
        sg = suggestions[col.id]
        options = [none, *headers]
        index = options.index(sg.header) if sg.header in options else 0
        why = tr(f"page.data.map.why_{sg.why}") if sg.why else tr("page.data.map.why_none")
        pick = grid[k % 3].selectbox(f"{col.zh if lang() == 'zh' else col.en} · `{col.id}`{' *' if col.required else ''}",
                                     options, index=index, key=f"dt_mc_{i}_{kind}_{col.id}", help=why)
        if pick != none:
            chosen[pick] = col.id
    missing = mappings.uncovered(kind, chosen)
    if missing:
        st.warning(tr("page.data.map.missing", cols="、".join(missing)))
    name = st.text_input(tr("page.data.map.name"), value=re.sub(r"[^\w.\-]+", "_", f"{kind_name(kind)}-{Path(label).stem}")[:64], key=f"dt_mn_{i}")
    b1, b2 = st.columns(2)
    draft = mappings.Profile(name, kind, chosen)
    if b1.button(tr("page.data.map.preview"), key=f"dt_mp_{i}", disabled=bool(missing)):
        try:
            mappings.validate(kind, chosen)
            dry = load_mod.dry_run(path, label, settings.db_path(), profile=draft, scope=scope)
        except EtlError as exc:
            st.error(layout.md_escape(said(exc)))
        else:
            r = dry.result
            st.info(tr("page.data.map.preview_result", loaded=f"{r.rows_loaded:,}", rejected=f"{r.rows_rejected:,}",
                       skipped=f"{r.rows_skipped:,}"))
            st.dataframe(readable_preview(dry.preview, kind), hide_index=True)
            if r.rejects:
                st.dataframe(pd.DataFrame(r.rejects[:200]).rename(columns={"sheet": tr("table.sheet"), "row": tr("table.row"),
                                                                          "reason": tr("table.reason")}), hide_index=True)
    if b2.button(tr("page.data.map.save"), key=f"dt_ms_{i}", type="primary", disabled=bool(missing)):
        try:
            saved = store.save(name, kind, chosen, by=signin.current().account)
        except EtlError as exc:
            st.error(layout.md_escape(said(exc)))
        else:
            signin.audit("mapping_saved", mapping=saved.tag, kind=kind, file=label)
            st.session_state["dt_saved"] = saved.tag
            st.rerun()


def progress_boxes(items: list[tuple[str, Path, int]]):
    """One st.status per file, updated as the loader reports each phase; the callback for load_files."""
    rate = session.context().snapshot.load_rate()
    boxes = {}
    for label, _, size in items:
        expect = ""
        if rate and size >= 2 * 1048576:
            expect = " · " + tr("page.data.expected", s=f"{max(1, round(size / rate)):,}")
        boxes[label] = (st.status(f"{label} · {tr('page.data.phase.waiting')}{expect}", state="running", expanded=False), expect)
    panels = st.empty()

    def update(ev: dict) -> None:
        phase = ev["phase"]
        if ev["file"] is None:
            panels.caption(tr(f"page.data.phase.{phase}"))
            return
        box, expect = boxes[ev["file"]]
        if phase in ("read", "load"):
            box.update(label=f"{ev['file']} · {tr(f'page.data.phase.{phase}')}{expect}", state="running")
        elif phase == "done":
            r = ev["result"]
            box.update(label=tr("page.data.result", file=ev["file"], kind="、".join(kind_name(k) for k in r.kind.split(",")),
                                loaded=f"{r.rows_loaded:,}",
                                rejected=f"{r.rows_rejected:,}", skipped=f"{r.rows_skipped:,}"), state="complete")
        elif phase == "failed":
            box.update(label=f"{ev['file']} · {tr('page.data.phase.failed')}", state="error")
            box.write(layout.md_escape(ev["result"].error))

    return update


st.subheader(tr("page.data.upload"))
user = signin.current()
scope = None if user.company else frozenset(user.nodes)  # a scoped steward loads rows of their units only
lake_url = settings.warehouse()
on_lake = not isinstance(lake_url, Path)  # on a lake an upload is a job for a province's loader (etl/jobs.py)
province = None
if not signin.may("upload"):
    files = None
    st.info(tr("page.data.no_upload"))
else:
    if scope is not None:
        st.caption(tr("page.data.upload_scoped", nodes="、".join(sorted(scope))))
    provinces = data_view.upload_provinces(session.context(), scope) if on_lake else []
    if on_lake:
        st.caption(tr("page.data.lake_jobs"))
    if on_lake and not provinces:
        files = None
        st.warning(tr("page.data.lake_no_province"))
    else:
        if on_lake:
            province = provinces[0] if len(provinces) == 1 else st.selectbox(tr("page.data.province"), provinces,
                                                                                key="dt_province")
        layout.uploader_texts()
        files = st.file_uploader(tr("page.data.uploader"), type=["csv", "xlsx", "xls"], accept_multiple_files=True,
                                 key=f"dt_files_{st.session_state.get('dt_uploads', 0)}")
if st.session_state.get("dt_saved"):
    st.success(tr("page.data.map.saved", tag=st.session_state.pop("dt_saved")))
if files:
    too_big = [f.name for f in files if f.size > settings.max_upload_bytes()]
    if too_big:
        st.error(tr("page.data.too_big", files="、".join(too_big), mb=settings.max_upload_bytes() // 1048576))
        layout.stop()
    items = staged(files)
    checks = [(label, path, size, *recognised(path, label)) for label, path, size in items]
    st.dataframe(pd.DataFrame({
        tr("table.file"): [c[0] for c in checks],
        tr("table.kind"): [kind_name(c[3]) or "—" for c in checks],
        tr("page.data.map.how"): [tr("page.data.map.via_mapping", tag=c[4].tag) if c[4] else
                                   (tr("page.data.map.via_contract") if c[3] else tr("page.data.map.needs")) for c in checks],
    }), hide_index=True)
    foreign = [(i, c) for i, c in enumerate(checks) if c[3] is None and c[5] is not None]
    for i, (label, path, _, _, _, sheet) in foreign:
        if on_lake:  # the dry-run preview needs the province's warehouse, which lives with its loader
            st.warning(tr("page.data.lake_needs_mapping", file=layout.md_escape(label)))
            continue
        with st.expander(tr("page.data.map.title", file=label), expanded=True):
            st.caption(tr("page.data.map.help"))
            mapping_editor(i, label, path, sheet)
    ready = [(label, path, size) for label, path, size, kind, _, _ in checks if kind is not None]
    unreadable = [c[0] for c in checks if c[3] is None and c[5] is None]
    if unreadable:  # the loader says why (encoding, damage, type) when they are loaded
        ready += [(label, path, size) for label, path, size, *_ in checks if label in unreadable]
    if on_lake:
        profiles_of = {c[0]: c[4] for c in checks}  # the saved mapping each file was recognised by, for the worker
        if ready and st.button(tr("page.data.submit_n", n=len(ready)), type="primary", key="dt_submit"):
            try:
                job = jobs.submit(lake_url, province, user.account, scope,
                                  [(label, path, profiles_of.get(label)) for label, path, _ in ready])
            except EtlError as exc:
                st.error(layout.md_escape(said(exc)))
                layout.stop()
            signin.audit("upload_queued", job=job, province=province, files=[label for label, _, _ in ready],
                         scope=sorted(scope) if scope is not None else "company")
            st.session_state["dt_submitted"] = job
            st.session_state["dt_uploads"] = st.session_state.get("dt_uploads", 0) + 1  # an empty uploader: they went
            st.rerun()
    elif ready and st.button(tr("page.data.load_n", n=len(ready)), type="primary", key="dt_load"):
        try:
            results = load_files([p for _, p, _ in ready], settings.db_path(), labels=[lb for lb, _, _ in ready],
                                 progress=progress_boxes(ready), scope=scope)
        except EtlError as exc:  # the warehouse as a whole refused (busy, newer schema): nothing changed
            st.error(layout.md_escape(said(exc)))
            layout.stop()
        if any(r.rows_loaded for r in results):
            warm.start_background(settings.db_path())
        signin.audit("upload", files=[{"file": r.file, "loaded": r.rows_loaded, "rejected": r.rows_rejected,
                                       "error": r.error, "mapping": r.mapping} for r in results],
                     scope=sorted(scope) if scope is not None else "company")
        st.session_state["dt_results"] = [r.to_dict() for r in results]
        st.session_state.pop("dt_units", None)  # new units may have arrived
        st.rerun()


def show_results(results: list[dict], key: str) -> None:
    """Each file's outcome: loaded, rejected and skipped rows, its notes, and its rejects with the reasons."""
    for r in results:
        if r["error"]:
            st.error(layout.md_escape(f"{r['file']}：{r['error']}"))
            continue
        st.success(tr("page.data.result", file=layout.md_escape(r["file"]), kind="、".join(kind_name(k) for k in r["kind"].split(",")),
                      loaded=f"{r['rows_loaded']:,}",
                      rejected=f"{r['rows_rejected']:,}", skipped=f"{r['rows_skipped']:,}"))
        for n in r["notes"]:
            st.caption("· " + layout.md_escape(n))
        if r["rejects"]:
            rj = pd.DataFrame(r["rejects"]).rename(columns={"sheet": tr("table.sheet"), "row": tr("table.row"), "reason": tr("table.reason")})
            st.dataframe(rj, hide_index=True)
            layout.download_csv(pd.DataFrame(r["rejects"]), f"rejects_{Path(r['file']).stem}", key=f"dl_rj_{key}_{r['load_id']}")


def job_line(job) -> None:
    """One load job as its state says: queued (and whether the province's loader runs), each phase while
    it runs, the published snapshot and each file's result when done, the reason when it failed."""
    files = "、".join(job.labels) if len(job.labels) <= 3 else tr("page.data.files_n", n=len(job.labels))
    st.markdown("**" + layout.md_escape(tr("page.data.job.title", id=job.id, province=job.province, files=files,
                                           created=job.created)) + "**")
    retry = tr("page.data.job.retry", n=job.attempts) if job.attempts > 1 else ""
    if job.state == "queued":
        st.info(tr("page.data.job.queued", province=job.province) + retry)
    elif job.state == "running":
        if job.phase == "load" and job.progress:
            last = next((e for e in reversed(job.progress) if e.get("file")), None)
            if last is not None:
                st.info(tr("page.data.job.load", i=last["index"], n=last["total"], file=layout.md_escape(last["file"]),
                           phase=tr(f"page.data.phase.{last['phase']}")) + retry)
                st.progress(min(1.0, sum(e["phase"] in ("done", "failed") for e in job.progress) / max(1, last["total"])))
            else:
                st.info(tr("page.data.job.fetch") + retry)
        else:
            st.info(tr(f"page.data.job.{job.phase or 'fetch'}") + retry)
    elif job.state == "done":
        if job.snapshot is not None:
            st.success(tr("page.data.job.done", snapshot=job.snapshot))
        else:
            st.warning(tr("page.data.job.done_nothing"))
    else:
        st.error(layout.md_escape(tr("page.data.job.failed", error=said(job.error or ""))))
    if job.active and not job.worker_alive:
        st.warning(tr("page.data.job.no_worker", province=job.province, s=int(jobs.ALIVE)))
    if job.results and not job.active:
        show_results(job.results, job.id)


def jobs_panel() -> None:
    """This account's newest load jobs, read from the lake's catalog (any server shows the same); redrawn
    every two seconds while one is queued or running, and the whole page once one of them finishes."""
    try:
        mine = jobs.recent(lake_url, account=user.account, limit=5)
    except EtlError as exc:
        st.warning(tr("page.data.job.unreachable", error=layout.md_escape(said(exc))))
        return
    active = {j.id for j in mine if j.active}
    watched = st.session_state.get("dt_jobs_active", set())
    st.session_state["dt_jobs_active"] = active
    if watched - active and not st.session_state.get("dt_full_run"):
        st.rerun(scope="app")  # a job finished while only this panel reran: the whole page shows the new snapshot
    if not mine:
        return
    st.subheader(tr("page.data.jobs"))
    for job in mine:
        with st.container(border=True):
            job_line(job)


if on_lake and signin.may("upload"):
    if st.session_state.get("dt_submitted"):
        st.success(tr("page.data.job.submitted", id=st.session_state.pop("dt_submitted")))
    try:
        polling = any(j.active for j in jobs.recent(lake_url, account=user.account, limit=5))
    except EtlError:
        polling = False  # jobs_panel says why
    st.session_state["dt_full_run"] = True  # (the page's own run: it reads the newest snapshot anyway)
    st.fragment(jobs_panel, run_every=2.0 if polling else None)()
    st.session_state["dt_full_run"] = False

show_results(st.session_state.get("dt_results", []), "dt")

state = None if on_lake else warm.read_state(settings.db_path())
if state is not None:
    kw = {"started": state.get("started", ""), "finished": state.get("finished") or "", "reason": state.get("reason") or "",
          "s": state.get("seconds", "")}
    {"running": st.info, "done": st.caption, "failed": st.warning, "interrupted": st.warning}[state["state"]](
        layout.md_escape(tr(f"page.data.warm.{state['state']}", **kw)))

profiles = store.list()
if profiles and signin.may("upload"):
    with st.expander(tr("page.data.map.saved_list", n=len(profiles))):
        st.dataframe(pd.DataFrame([{tr("page.data.map.name"): p.name, tr("table.kind"): kind_name(p.kind),
                                    tr("page.data.map.version"): p.version, tr("table.time"): p.saved_at,
                                    tr("page.data.map.by"): p.saved_by or "",
                                    tr("page.data.map.columns"): "，".join(f"{h} → {c}" for h, c in p.columns.items())}
                                   for p in profiles]), hide_index=True)
        pick = st.selectbox(tr("page.data.map.pick"), [p.name for p in profiles], key="dt_mpick")
        chosen = next(p for p in profiles if p.name == pick)
        d1, d2 = st.columns(2)
        d1.download_button(tr("page.data.map.export"), json.dumps(chosen.to_dict(), ensure_ascii=False, indent=2),
                           file_name=f"{chosen.name}.json", mime="application/json", key="dt_mexp")
        if d2.button(tr("page.data.map.delete"), key="dt_mdel"):
            store.delete(chosen.name)
            signin.audit("mapping_deleted", mapping=chosen.tag)
            st.rerun()

st.subheader(tr("page.data.templates"))
st.download_button(tr("page.data.download_templates"), templates_zip(lang()), file_name=f"pbkpi_templates_{lang()}.zip",
                   mime="application/zip", key="dt_tpl")

vm = data_view.view(session.context())
if vm.has_data:
    st.subheader(tr("page.data.history"))
    names = {d.id: d.name(lang()) for d in datasets().values()}
    counts = {c: st.column_config.NumberColumn(format="localized") for c in (tr("table.loaded"), tr("table.rejected"), tr("table.skipped"))}
    history = vm.history.assign(kind=vm.history["kind"].map(lambda k: names.get(k, k)),
                                loaded_at=pd.to_datetime(vm.history["loaded_at"]).dt.strftime("%Y-%m-%d %H:%M"))
    st.dataframe(history.rename(columns={"load_id": "#", "file_name": tr("table.file"), "kind": tr("table.kind"),
                                         "rows_loaded": tr("table.loaded"), "rows_rejected": tr("table.rejected"),
                                         "rows_skipped": tr("table.skipped"), "loaded_at": tr("table.time")}),
                 hide_index=True, column_config=counts)
    if len(vm.rejects):
        with st.expander(tr("page.data.all_rejects", n=len(vm.rejects))):
            st.dataframe(vm.rejects.drop(columns=["raw"]).rename(columns={
                "load_id": "#", "file_name": tr("table.file"), "sheet": tr("table.sheet"), "row_number": tr("table.row"),
                "reason": tr("table.reason")}), hide_index=True)
            layout.download_csv(vm.rejects, "rejects_all", key="dl_rj_all")
    st.subheader(tr("page.data.coverage"))
    shown = vm.coverage["business_unit_id"].nunique()
    if shown < vm.coverage_units:
        st.caption(tr("page.data.coverage_worst", shown=shown, total=f"{vm.coverage_units:,}"))
    layout.plot(charts.coverage_heatmap(vm.coverage, height=max(400, 14 * shown)), "dt_cov")
    st.caption(tr("page.data.coverage_note"))


def metric_form(vm) -> None:
    """Define a metric from the KPI file's columns (administrators): the panels, statistics and briefing
    read it at once, without reloading any file (etl/definitions.py)."""
    kinds = ["total", "stock", "level", "ratio"]
    sources = vm.undefined["header"].tolist() + [h for h in vm.headers if h not in set(vm.undefined["header"])]
    if not sources:
        st.caption(tr("page.data.metric.no_columns"))
        return
    with st.form("dt_metric"):
        c1, c2, c3 = st.columns(3)
        header = c1.selectbox(tr("page.data.metric.source"), sources, key="dm_source")
        kind = c2.selectbox(tr("page.data.metric.kind"), kinds, format_func=lambda k: tr(f"page.data.metric.kind_{k}"), key="dm_kind")
        denominator = c3.selectbox(tr("page.data.metric.denominator"), [""] + sources, key="dm_den",
                                   format_func=lambda h: h or "—", help=tr("page.data.metric.denominator_help"))
        c1, c2, c3 = st.columns(3)
        mid = c1.text_input(tr("page.data.metric.id"), key="dm_id", help=tr("page.data.metric.id_help"))
        zh = c2.text_input(tr("page.data.metric.name_zh"), key="dm_zh")
        en = c3.text_input(tr("page.data.metric.name_en"), key="dm_en")
        c1, c2, c3, c4 = st.columns(4)
        unit_zh = c1.text_input(tr("page.data.metric.unit_zh"), key="dm_unit_zh")
        unit_en = c2.text_input(tr("page.data.metric.unit_en"), key="dm_unit_en")
        role = c3.selectbox(tr("page.data.metric.role"), ["kpi", "context", "input"], key="dm_role",
                            format_func=lambda r: tr(f"page.data.metric.role_{r}"))
        direction = c4.selectbox(tr("page.data.metric.direction"), ["higher", "lower", "none"], key="dm_dir",
                                 format_func=lambda d: tr(f"page.data.metric.dir_{d}"))
        c1, c2, c3, c4 = st.columns(4)
        per = c1.number_input(tr("page.data.metric.per"), min_value=1.0, value=1.0, step=1.0, key="dm_per")
        weights = [m.id for m in metrics().values() if m.rollup == "sum"]
        weight = c2.selectbox(tr("page.data.metric.weight"), [""] + weights, key="dm_weight",
                              format_func=lambda w: mname(w) if w else tr("page.data.metric.unweighted"))
        decimals = c3.number_input(tr("page.data.metric.decimals"), min_value=0, max_value=4, value=1, key="dm_dec")
        index = c4.checkbox(tr("page.data.metric.index"), key="dm_index")
        c1, c2, c3 = st.columns(3)
        lo = c1.text_input(tr("page.data.metric.valid_min"), key="dm_lo", help=tr("page.data.metric.valid_help"))
        hi = c2.text_input(tr("page.data.metric.valid_max"), key="dm_hi", help=tr("page.data.metric.valid_help"))
        sizes = [m.id for m in metrics().values() if m.role == "context"]
        scales = c3.selectbox(tr("page.data.metric.scales_with"), [""] + sizes, key="dm_scales",
                              format_func=lambda w: mname(w) if w else tr("page.data.metric.no_scaling"),
                              help=tr("page.data.metric.scales_help"))
        if st.form_submit_button(tr("page.data.metric.save"), type="primary"):
            try:
                body = definition_from_form(
                    mid, kind, header, denominator=denominator, per=per, weight=weight, zh=zh, en=en, unit_zh=unit_zh,
                    unit_en=unit_en, role=role, direction=direction, decimals=decimals, index=index, scales_with=scales,
                    valid_min=lo, valid_max=hi)
            except ValueError as exc:
                st.error(tr("page.data.metric.not_a_number", value=exc.args[0]))
                return
            cid = body["metric"]["id"]
            try:
                definitions.save(settings.db_path(), body, signin.current().account)
                signin.audit("metric_defined", metric=cid, source=header)
                st.session_state["dt_metric_saved"] = cid
                st.rerun()
            except definitions.DefinitionError as exc:
                for zh_, en_ in exc.problems:
                    st.error(zh_ if lang() == "zh" else en_)
            except EtlError as exc:
                st.error(said(exc))


if vm.has_data:
    st.subheader(tr("page.data.metric.title"))
    st.caption(tr("page.data.metric.help", profile=catalogue.profile().name(lang())))
    if st.session_state.get("dt_metric_saved"):
        st.success(tr("page.data.metric.saved", id=st.session_state.pop("dt_metric_saved")))
    zh_ = lang() == "zh"
    st.dataframe(pd.DataFrame({
        tr("table.name"): vm.metrics["zh" if zh_ else "en"],
        tr("table.unit"): vm.metrics["unit_zh" if zh_ else "unit_en"],
        tr("page.data.metric.role"): vm.metrics["role"].map(lambda r: tr(f"page.data.metric.role_{r}")),
        tr("page.data.metric.direction"): vm.metrics["direction"].map(lambda d: tr(f"page.data.metric.dir_{d}")),
        tr("page.data.metric.by"): vm.metrics["by"].map(lambda b: tr(f"page.data.metric.by_{b}")),
    }), hide_index=True)
    if len(vm.undefined):
        st.markdown(tr("page.data.metric.undefined", n=len(vm.undefined)))
        st.dataframe(vm.undefined.rename(columns={
            "header": tr("page.data.metric.source"), "rows": tr("table.rows"), "units": tr("table.units"),
            "first": tr("table.first_month"), "last": tr("table.last_month"), "min": tr("table.min"), "max": tr("table.max")}),
            hide_index=True)
    if signin.may("admin") and on_lake:
        st.caption(tr("page.data.metric.lake"))
    elif signin.may("admin"):
        with st.expander(tr("page.data.metric.define"), expanded=bool(len(vm.undefined))):
            metric_form(vm)
        mine = vm.metrics[vm.metrics["by"] == "admin"]["id"].tolist()
        if mine:
            c1, c2 = st.columns([3, 1])
            gone = c1.selectbox(tr("page.data.metric.remove_which"), mine, key="dm_remove", format_func=mname)
            if c2.button(tr("page.data.metric.remove"), key="dm_remove_btn"):
                try:
                    definitions.remove(settings.db_path(), gone, signin.current().account)
                    signin.audit("metric_removed", metric=gone)
                    st.rerun()
                except definitions.DefinitionError as exc:
                    st.error(" ".join(zh_ if lang() == "zh" else en_ for zh_, en_ in exc.problems))
    else:
        st.caption(tr("page.data.metric.admin_only"))
