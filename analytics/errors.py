"""Errors the statistics raise: specific, and worded so an analyst knows what to change."""


class AnalysisError(ValueError):
    """The requested analysis cannot be run on this data; the message says why and what to try."""


class InsufficientData(AnalysisError):
    """Too little data in the selection for this analysis: its verdict is `insufficient_data`."""

    verdict = "insufficient_data"
