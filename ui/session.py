"""The application objects a Streamlit server shares: one Warehouse (its read memory), one ResultStore and
one JobRunner per warehouse file, created on first use; and the Context of the current page run, which
app.py builds once per run (so every part of a page reads the same warehouse version)."""
from __future__ import annotations


import streamlit as st

import settings
from application.context import Context
from application.runner import JobRunner
from application.selection import Selection
from application.store import ResultStore
from application.warehouse import Warehouse


@st.cache_resource(show_spinner=False)
def services(db_path: str) -> tuple[Warehouse, ResultStore, JobRunner]:
    warehouse = Warehouse(db_path)
    store = ResultStore(warehouse.results())
    return warehouse, store, JobRunner(store)


@st.cache_resource(show_spinner=False)
def _notes(path: str):
    from application.notes import NoteStore

    return NoteStore(path)


def notes():
    """The 批注 store (application/notes.py), one per server."""
    return _notes(str(settings.notes_path()))


def new_context(user=None) -> Context:
    """A context at the warehouse's current version, restricted to the user's scope (app.py, once per
    run): every read of the run goes through this snapshot."""
    warehouse, store, runner = services(str(settings.warehouse()))
    nodes = None if user is None or user.company else user.nodes
    ctx = Context(warehouse.snapshot(nodes), store, runner, settings.background_rows())
    st.session_state["_ctx"] = ctx
    return ctx


def narrowed(ctx: Context, org: str | None) -> Context:
    """The run's context narrowed to the business units beneath an organisation of the org tree (and within
    the user's scope): it becomes this run's context, so every page rolls up at that level."""
    if not org:
        return ctx
    narrow = ctx.narrowed(org)
    st.session_state["_ctx"] = narrow
    return narrow


def context() -> Context:
    """This run's context (made by app.py; otherwise a new one, for the signed-in user's scope — never a
    wider one)."""
    from ui import signin

    return st.session_state.get("_ctx") or new_context(signin.current())


def selection() -> Selection:
    """This run's sidebar selection (made by app.py)."""
    return st.session_state.get("selection") or Selection()


def fragment_rerun() -> bool:
    """Whether this run reruns a fragment alone (a page's pick), not the whole app."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    run = get_script_run_ctx()
    return bool(run and run.fragment_ids_this_run)
