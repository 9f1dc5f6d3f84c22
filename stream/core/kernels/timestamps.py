"""RFC 3339 event times of one strict form, read in a batch (for :mod:`stream.core.decoding`).

:func:`micros_since_epoch` reads ``YYYY-MM-DDTHH:MM:SS``, an optional ``.`` and 1-9 digits,
then ``Z`` or ``[+-]HH:MM``, with a year in 1970-2200 and a date and time that exist, and
gives microseconds since 1970-01-01 UTC, or :data:`NOT_READ` for any other text. Digits past
the sixth of a fraction are dropped, as pydantic does. Every form it reads, pydantic reads to
the same instant; pydantic reads more (``t``, ``z``, a space, ``+HHMM``, no seconds), which
the decoder leaves to it.

>>> import numpy as np
>>> text = np.frombuffer(b"2024-05-01T10:00:00.5+02:002024-05-01 10:00:00Z", dtype=np.uint8)
>>> out = np.empty(2, dtype=np.int64)
>>> micros_since_epoch(text, np.array([0, 27]), np.array([27, 20]), out)
>>> out.tolist()
[1714550400500000, -1]
"""

from __future__ import annotations

from numba import njit

NOT_READ = -1
"""Not of the form read here, or before 1970-01-01 UTC (which parse_input rejects)."""
LATEST_YEAR = 2200
"""Microseconds up to here stay below 2**53, so a float64 holds them exactly."""
SHORTEST = len("2024-01-01T00:00:00Z")
LONGEST = len("2024-01-01T00:00:00.123456789+00:00")


@njit(cache=True)
def micros_since_epoch(text, starts, lengths, out) -> None:  # type: ignore[no-untyped-def]
    """Into ``out[r]``: the time ``text[starts[r]:starts[r] + lengths[r]]`` (ASCII bytes) in
    microseconds since the epoch, or :data:`NOT_READ`."""
    for r in range(len(starts)):
        out[r] = _read(text, starts[r], lengths[r])


@njit(cache=True)
def _number(text, at: int, width: int) -> int:  # type: ignore[no-untyped-def]
    value = 0
    for p in range(at, at + width):
        digit = int(text[p]) - 48
        if digit < 0 or digit > 9:
            return -1
        value = value * 10 + digit
    return value


@njit(cache=True)
def _read(text, at: int, length: int) -> int:  # type: ignore[no-untyped-def]
    if length < SHORTEST or length > LONGEST:
        return NOT_READ
    for p, char in ((4, 45), (7, 45), (10, 84), (13, 58), (16, 58)):  # - - T : :
        if text[at + p] != char:
            return NOT_READ
    year = _number(text, at, 4)
    month = _number(text, at + 5, 2)
    day = _number(text, at + 8, 2)
    hour = _number(text, at + 11, 2)
    minute = _number(text, at + 14, 2)
    second = _number(text, at + 17, 2)
    if year < 1970 or year > LATEST_YEAR or month < 1 or month > 12 or day < 1:
        return NOT_READ
    if hour < 0 or hour > 23 or minute < 0 or minute > 59 or second < 0 or second > 59:
        return NOT_READ
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if day > _days_in_month(month, leap):
        return NOT_READ

    p = at + 19
    end = at + length
    micros = 0
    if text[p] == 46:  # .
        p += 1
        digits = 0
        while p < end and 48 <= text[p] <= 57:
            if digits < 6:
                micros = micros * 10 + (int(text[p]) - 48)
            digits += 1
            p += 1
        if digits == 0 or digits > 9:
            return NOT_READ
        for _ in range(digits, 6):
            micros *= 10

    offset = 0
    if end - p == 1 and text[p] == 90:  # Z
        offset = 0
    elif end - p == 6 and (text[p] == 43 or text[p] == 45) and text[p + 3] == 58:  # + - :
        hours = _number(text, p + 1, 2)
        minutes = _number(text, p + 4, 2)
        if hours < 0 or hours > 23 or minutes < 0 or minutes > 59:
            return NOT_READ
        offset = hours * 3600 + minutes * 60
        if text[p] == 45:
            offset = -offset
    else:
        return NOT_READ

    # Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    y = year - 1 if month <= 2 else year
    era = y // 400
    of_era = y - era * 400
    of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    days = era * 146_097 + of_era * 365 + of_era // 4 - of_era // 100 + of_year - 719_468
    local = days * 86_400 + hour * 3600 + minute * 60 + second
    since = (local - offset) * 1_000_000 + micros
    return since if since >= 0 else NOT_READ


@njit(cache=True)
def _days_in_month(month: int, leap: bool) -> int:
    if month == 2:
        return 29 if leap else 28
    if month == 4 or month == 6 or month == 9 or month == 11:
        return 30
    return 31
