"""Tools for teaching the lecture: the exercise-4 recording as a table a spreadsheet
reads (``record``), and worked exercises with their answer keys (``exercise``)."""

from retroprop.teach.record import (
    CSV_DIALECTS,
    record_table,
    write_record,
)

__all__ = ["CSV_DIALECTS", "record_table", "write_record"]
