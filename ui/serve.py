"""Start the dashboard: `python -m ui.serve [streamlit options]` is `streamlit run app.py [options]` without
Streamlit's emulation of the legacy `pages/` folder.

app.py declares its pages with st.navigation. Streamlit still treats a folder named `pages/` beside the
main script as a legacy multipage app until the first st.navigation call, so the very first visit to a
deep link on a freshly started server (e.g. /relationships) showed a "Page not found" dialog before the
right page ran. Clearing that flag before the server starts avoids it (`make run` starts the server this
way)."""
from __future__ import annotations

import sys
from pathlib import Path

from streamlit.runtime.pages_manager import PagesManager
from streamlit.web import cli

APP = Path(__file__).resolve().parents[1] / "app.py"


def main(argv: list[str] | None = None) -> int:
    PagesManager.uses_pages_directory = False  # the pages are those app.py passes to st.navigation
    sys.argv = ["streamlit", "run", str(APP), *(sys.argv[1:] if argv is None else argv)]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
