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
