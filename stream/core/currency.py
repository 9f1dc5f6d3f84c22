"""Spend in one currency: a shop that sells in several sets a base currency and a fixed rate
for each of the others, and every purchase counts toward spend (M, tiers, order values) in
the base currency.

Rates are fixed settings, not fetched: the same input history must give the same scores and
the same output ids on every replay. Without a base currency, amounts count as they come,
which is right only for a shop that sells in one currency; the engine notes every currency it
sees, so the shells can warn about a mix.

>>> exchange_rates("EUR", "USD=0.92, gbp=1.17")
{'EUR': 1.0, 'USD': 0.92, 'GBP': 1.17}
>>> exchange_rates("", "") is None
True
"""

from __future__ import annotations

import math
import re

CODE = re.compile(r"[A-Za-z]{3}")
"""An ISO 4217 code, read in upper case whatever case it comes in."""


def exchange_rates(base: str, rates: str) -> dict[str, float] | None:
    """The value in ``base`` (a code, or empty) of one unit of each accepted currency, from
    ``"USD=0.92,..."``; None without a base currency: any currency is accepted and counted as
    it comes.

    Raises ValueError saying what is wrong with ``rates``, for the caller to prefix with the
    setting.
    """
    if not base:
        if rates.strip():
            raise ValueError("needs a base currency to convert to (STREAM_ENGINE_CURRENCY)")
        return None
    base = base.upper()
    accepted = {base: 1.0}
    for entry in filter(None, (part.strip() for part in rates.split(","))):
        code, sep, value = (part.strip() for part in entry.partition("="))
        if not sep or not CODE.fullmatch(code):
            raise ValueError(f"has {entry!r}; expected CODE=RATE entries such as USD=0.92")
        code = code.upper()
        if code in accepted:
            raise ValueError(f"gives {code} twice (the base currency is {base})")
        try:
            rate = float(value)
        except ValueError:
            rate = math.nan
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"has {entry!r}; a rate must be a positive number")
        accepted[code] = rate
    return accepted
