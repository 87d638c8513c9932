"""Errors the statistics raise: specific, and worded so an analyst knows what to change."""


class DomainError(Exception):
    """What the data or the request cannot support (too few units, no data for a quarter, an unknown
    metric): it holds for the whole warehouse version, so a result store keeps it like a result, and a
    page shows its message calmly. Anything else is a fault: logged with a reference, tried again."""


class AnalysisError(DomainError):
    """The requested analysis cannot be run on this data; the message says why and what to try."""


class NoChange(AnalysisError):
    """A scenario that changes no unit (every unit already at the level it asks for): said, not an error."""


class InsufficientData(AnalysisError):
    """Too little data in the selection for this analysis: its verdict is `insufficient_data`."""

    verdict = "insufficient_data"


def named(column: str) -> str:
    """A metric as an error message names it: its Chinese name in 「」 (a lagged column says its lag), so a
    message never shows an internal id; a column the catalogue does not know is shown as it is."""
    from catalogue import metrics

    base, _, k = column.partition("_lag")
    m = metrics().get(base)
    if m is None:
        return f"「{column}」"
    return f"「{m.zh}」" if not k else f"「{m.zh}（滞后 {k} 期）」"
