"""Satisfaction from the latest survey answer.

NPS 9-10 promoter, 7-8 passive, 0-6 detractor; a CSAT of 1-2 is a detractor whatever the NPS.
With CSAT alone (our choice, in the README): 4-5 promoter, 3 passive.

>>> satisfaction(nps=9, csat=None), satisfaction(nps=9, csat=2), satisfaction(None, 3)
('promoter', 'detractor', 'passive')
"""

from __future__ import annotations


def satisfaction(nps: int | None, csat: int | None) -> str | None:
    if csat is not None and csat <= 2:
        return "detractor"
    if nps is not None:
        return "promoter" if nps >= 9 else "passive" if nps >= 7 else "detractor"
    if csat is not None:
        return "promoter" if csat >= 4 else "passive"
    return None


_ORDER = {"detractor": 0, "passive": 1, "promoter": 2, None: 3}


def less_satisfied(
    nps: int | None, csat: int | None, than_nps: int | None, than_csat: int | None
) -> bool:
    """Whether one answer is less satisfied than another: by satisfaction, then by the lower
    NPS, then the lower CSAT (a missing score above any). Two answers at the same time are
    settled by it, so the one kept does not depend on arrival order.

    >>> less_satisfied(9, None, 10, None), less_satisfied(None, 5, 9, None)
    (True, False)
    """

    def rank(nps: int | None, csat: int | None) -> tuple[int, int, int]:
        return (
            _ORDER[satisfaction(nps, csat)],
            11 if nps is None else nps,
            6 if csat is None else csat,
        )

    return rank(nps, csat) < rank(than_nps, than_csat)
