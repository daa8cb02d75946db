"""Calendar features and lag indices for a DeepAR ``time_freq`` (``5min``, ``H``, ``D``, ``W``, ``M``).

Time features are scaled to [-0.5, 0.5] (as GluonTS does): minute of hour, hour of day, day of
week/month/year, week of year, month of year — those finer than the frequency's period are left out.
Lags (as GluonTS chooses them): 1..7 steps, plus ``k·season - 1``, ``k·season``, ``k·season + 1`` for
each seasonal period and its multiples up to the next longer period — every hour of the last day for
minute data, every day of the last week for hourly data, every week of the last four for daily data,
a year back for weekly and monthly data (two for monthly) — in steps of the frequency.
"""

from __future__ import annotations

import numpy as np

from sagestack.algorithms.deepar.spec import TIME_FREQ

_PANDAS_UNIT = {"min": "min", "H": "h", "D": "D", "W": "W", "M": "MS"}
_FEATURES = {
    "min": ("minute_of_hour", "hour_of_day", "day_of_week"),
    "H": ("hour_of_day", "day_of_week", "day_of_month", "day_of_year"),
    "D": ("day_of_week", "day_of_month", "day_of_year"),
    "W": ("day_of_month", "week_of_year"),
    "M": ("month_of_year",),
}
# Seasonal periods in base units (minutes for min, hours for H, ...) and how many multiples of each
# the model sees as lags.
_SEASONS = {"min": ((60, 4), (1440, 1)), "H": ((24, 7),), "D": ((7, 4),), "W": ((52, 1),), "M": ((12, 2),)}


def split_freq(time_freq: str) -> tuple[int, str]:
    match = TIME_FREQ.match(time_freq.strip())
    if match is None:
        raise ValueError(time_freq)
    return int(match.group("mult") or 1), match.group("unit")


def pandas_freq(time_freq: str) -> str:
    mult, unit = split_freq(time_freq)
    return f"{mult}{_PANDAS_UNIT[unit]}"


def feature_names(time_freq: str) -> tuple[str, ...]:
    return _FEATURES[split_freq(time_freq)[1]]


def lags(time_freq: str) -> list[int]:
    mult, unit = split_freq(time_freq)
    found = set(range(1, 8))
    for season, multiples in _SEASONS[unit]:
        steps = season // mult
        if steps < 2:
            continue
        for k in range(1, multiples + 1):
            found.update(s for s in (k * steps - 1, k * steps, k * steps + 1) if s >= 1)
    return sorted(found)


def time_features(start, length: int, time_freq: str) -> np.ndarray:
    """``(length, F)`` float32 calendar features of ``length`` steps from ``start``."""
    import pandas as pd

    index = pd.date_range(start=start, periods=length, freq=pandas_freq(time_freq))
    columns = []
    for name in feature_names(time_freq):
        if name == "minute_of_hour":
            values = index.minute / 59.0
        elif name == "hour_of_day":
            values = index.hour / 23.0
        elif name == "day_of_week":
            values = index.dayofweek / 6.0
        elif name == "day_of_month":
            values = (index.day - 1) / 30.0
        elif name == "day_of_year":
            values = (index.dayofyear - 1) / 365.0
        elif name == "week_of_year":
            values = (index.isocalendar().week.to_numpy() - 1) / 52.0
        else:  # month_of_year
            values = (index.month - 1) / 11.0
        columns.append(np.asarray(values, dtype=np.float32) - 0.5)
    return np.stack(columns, axis=1) if columns else np.zeros((length, 0), np.float32)


def shifted_start(start, steps: int, time_freq: str):
    """``start`` moved ``steps`` periods back (negative: forward)."""
    import pandas as pd

    offset = pd.tseries.frequencies.to_offset(pandas_freq(time_freq))
    return start - steps * offset
