"""What changed, in words: the summary line for one ``Loaded`` (viewer/loading.py computes the ``ChangeSet``).

The model carries the marks; the form renders them; this module only phrases them, in local time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from PySide6.QtCore import QLocale

from viewer.loading import ChangeKind, Loaded


def when_text(moment: datetime, now: datetime, locale: QLocale) -> str:
    """"today 14:02", "yesterday 14:02", or the locale's date and time — in local time."""
    local, today = moment.astimezone(), now.astimezone()
    clock = local.strftime("%H:%M")
    if local.date() == today.date():
        return f"today {clock}"
    if local.date() == (today - timedelta(days=1)).date():
        return f"yesterday {clock}"
    from PySide6.QtCore import QDate

    from viewer.schema import date_format

    day = locale.toString(QDate(local.year, local.month, local.day), date_format(locale))
    return f"{day} {clock}"


def summary_text(loaded: Loaded, now: datetime, locale: QLocale) -> str:
    """The one line that says what changed: the form's summary, the status bar and the announcement all use it."""
    if loaded.kind is ChangeKind.FIRST or loaded.since is None:
        return "First time you open this payment here: changes will be marked from now on."
    when = when_text(loaded.since, now, locale)
    since = "the last refresh" if loaded.kind is ChangeKind.REFRESH else "your last visit"
    count = len(loaded.changes.names())
    if not count:
        return f"No changes since {since} ({when})."
    fields = "1 field" if count == 1 else f"{count} fields"
    return f"{fields} changed since {since} ({when})."
