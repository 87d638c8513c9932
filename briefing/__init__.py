"""Exports: safe CSV/Excel now; the quarterly briefing (PPTX/HTML/PNG) is issue 5."""
