"""Change classes between two periods from monthly counts: JRC's transitions, one pixel each."""

from __future__ import annotations

import numpy as np
import pytest

from sensing.change import Period, change_classes, period_state
from sensing.products import CHANGE_CLASSES


def _counts(wet_months: list[int], clear_months: list[int]) -> np.ndarray:
    """24-band counts of one year for a single pixel."""
    counts = np.zeros((24, 1, 1), dtype=np.uint8)
    for m in wet_months:
        counts[m - 1] = 1
    for m in clear_months:
        counts[12 + m - 1] = 1
    return counts


ALL = list(range(1, 13))
SUMMER = [5, 6, 7, 8, 9, 10]
STATE = {
    "permanent": _counts(ALL, ALL),
    "permanent, winter under ice": _counts(SUMMER, SUMMER),  # ice months are not clear looks
    "seasonal": _counts([5, 6], ALL),
    "not water": _counts([], ALL),
    "never seen": _counts([], []),
}


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("permanent", "permanent", "permanent"),
        ("permanent, winter under ice", "permanent", "permanent"),
        ("not water", "permanent", "new permanent"),
        ("permanent", "not water", "lost permanent"),
        ("seasonal", "seasonal", "seasonal"),
        ("not water", "seasonal", "new seasonal"),
        ("seasonal", "not water", "lost seasonal"),
        ("seasonal", "permanent", "seasonal to permanent"),
        ("permanent", "seasonal", "permanent to seasonal"),
        ("not water", "not water", "not water"),
        ("never seen", "permanent", "no data"),
    ],
)
def test_transition_classes(before: str, after: str, expected: str) -> None:
    code = change_classes(period_state([STATE[before]]), period_state([STATE[after]]))
    assert CHANGE_CLASSES[int(code[0, 0])][0] == expected


def test_water_only_between_the_periods_is_ephemeral() -> None:
    dry = period_state([STATE["not water"]])
    assert (
        CHANGE_CLASSES[int(change_classes(dry, dry, period_state([STATE["permanent"]]))[0, 0])][0]
        == "ephemeral permanent"
    )
    assert (
        CHANGE_CLASSES[int(change_classes(dry, dry, period_state([STATE["seasonal"]]))[0, 0])][0]
        == "ephemeral seasonal"
    )


def test_a_period_of_several_years_pools_their_months() -> None:
    # wet in every clear month of 2019 and 2020 but dry all of 2021: 24 of 36 slots, seasonal
    assert period_state([STATE["permanent"], STATE["permanent"], STATE["not water"]])[0, 0] == 1
    assert Period.parse("2017-2019").years == range(2017, 2020) and str(Period.parse("2021")) == "2021"
    with pytest.raises(ValueError, match="ends before"):
        Period.parse("2020-2018")
