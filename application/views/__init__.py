"""One view per page: `view(ctx, selection, params) -> ViewModel`, with the page's parameters and their
first-visit defaults (`Params`, `DEFAULTS`) declared beside it and the choices its widgets offer
(`options`). A page reads its widgets into a Selection and Params, calls its view and draws the model; a
test checks a page's numbers by calling the view, and the warm-up computes every view's defaults."""
