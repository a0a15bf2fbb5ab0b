"""Statistical secrecy with complementary suppression (warehouse-contract.md, domain.md).

A row whose population (present; assessed for blocks) is between 1 and threshold − 1 is hidden
(primary suppression). Then every line of the table — the route rows of one académie with its
TOUTES row; the académie rows of one route with its NAT row; per block for blocks — must hold no
hidden row or at least two, so that no hidden figure can be recovered by subtraction: a line
holding exactly one gets its smallest other row hidden too (a row of population > 0 if there is
one; the first such row in table order on a tie), and the lines are walked again until none
changes.

Plain Python over the aggregate rows (a few hundred per session).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

LineKey = tuple | None  # None: the row belongs to no line of that kind (a key column is null)


def line_keys(rows: Sequence[Mapping], columns: Sequence[str]) -> list[LineKey]:
    """Each row's line: its values of `columns`, or None if one of them is null."""
    return [
        None if any(r[c] is None for c in columns) else tuple(r[c] for c in columns) for r in rows
    ]


def hidden(population: Sequence[int | None], lines: Sequence[Sequence[LineKey]],
           threshold: int) -> list[bool]:  # fmt: skip
    """Which rows are hidden, given each row's population (None: unknown) and, per kind of
    line, each row's line key. Lines are visited kind by kind, each kind's lines in the order
    of their first row."""
    mask = [p is not None and 1 <= p < threshold for p in population]
    kinds = []
    for keys in lines:
        groups: dict[tuple, list[int]] = {}
        for i, key in enumerate(keys):
            if key is not None:
                groups.setdefault(key, []).append(i)
        kinds.append(list(groups.values()))
    changed = True
    while changed:
        changed = False
        for groups in kinds:
            for rows in groups:
                if sum(mask[i] for i in rows) != 1:
                    continue
                candidates = [i for i in rows if not mask[i]]
                if not candidates:
                    continue
                positive = [i for i in candidates
                            if population[i] is not None and population[i] > 0]  # fmt: skip
                pool = [i for i in positive or candidates if population[i] is not None]
                if not pool:
                    raise ValueError("a line's only candidates for suppression have no population")
                mask[min(pool, key=population.__getitem__)] = True  # the first smallest
                changed = True
    return mask


def suppress(rows: Sequence[Mapping], population: str, threshold: int,
             by: Sequence[str] = ()) -> list[bool]:  # fmt: skip
    """Which of `rows` (dicts, in table order) are hidden: lines are `by` + academy_code and
    `by` + access_route (`by` = ["block_code"] for blocks)."""
    lines = [line_keys(rows, [*by, "academy_code"]), line_keys(rows, [*by, "access_route"])]
    return hidden([r[population] for r in rows], lines, threshold)
