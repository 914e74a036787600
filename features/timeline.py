"""Person timelines of a delivery, for analyses beside the feature catalogue.

The feature builders read a delivery through one :class:`Timeline` (every contract table as
dense per-person arrays, look-ups strictly before a reference date); this is its public face
for code outside ``features`` (benchmarks that try candidate inputs, for instance).
:func:`build_timeline` builds it, :class:`RefDate` is a reference date as the day number the
look-ups take, and ``NO_DAY`` is the day number of a missing date (before every day).
"""

from features._timeline import NO_DAY, RefDate, Timeline, build_timeline

__all__ = ["NO_DAY", "RefDate", "Timeline", "build_timeline"]
