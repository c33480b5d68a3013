"""Ranges given per release branch: `<9.6.3.13` and `<9.6.4.1` for one product say that the
9.6.3 branch is fixed from 9.6.3.13 and the 9.6.4 branch from 9.6.4.1, not that every version
below 9.6.4.1 is affected. A member's version in a branch is decided by that branch's range
alone; a version in no branch the advisory names is decided by all of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.domain.version_grammar import Bound
from bot.domain.version_order import components


@dataclass(frozen=True)
class BranchFix:
    bound: Bound  # the branch's upper bound, as listed
    branch: tuple[str, ...]  # the branch's leading components: ("9", "6", "3")

    @property
    def name(self) -> str:
        return ".".join(self.branch)


def branch_fixes(bounds: Iterable[Bound]) -> list[BranchFix]:
    """The upper bounds of one product read as per-branch fixes: each bound's branch is its
    leading components up to where it parts from the closest other bound (9.6.3.13 and
    9.6.4.1 part at the third: branches 9.6.3 and 9.6.4). Fewer than two branches: none."""
    distinct = list({b.key: b for b in bounds}.values())
    if len(distinct) < 2:
        return []
    parts = {b.key: components(b.key) for b in distinct}
    fixes = []
    for bound in distinct:
        mine = parts[bound.key]
        shared = max(_common(mine, parts[other.key]) for other in distinct if other is not bound)
        # A bound that is its branch's first release ("<3.0") fixes no branch.
        if shared + 1 < len(mine) and any(part != "0" for part in mine[shared + 1:]):
            fixes.append(BranchFix(bound, mine[:shared + 1]))
    return fixes if len({f.branch for f in fixes}) >= 2 else []


def branches_of(member_key: str, fixes: Iterable[BranchFix]) -> list[BranchFix]:
    """The fixes whose branch holds the member's version."""
    mine = components(member_key)
    return [f for f in fixes if mine[:len(f.branch)] == f.branch]


def _common(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n
