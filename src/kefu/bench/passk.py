"""pass^k: how reliably a task is solved when it is tried k times (tau-bench's measure).

With ``n`` trials of each task and ``c`` successes of one task, the chance that k trials drawn
without replacement all succeed is ``C(c, k) / C(n, k)``; pass^k is its mean over the tasks.
pass^1 is the plain success rate; pass^k falls as k grows unless every task is solved always
or never.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import comb


def pass_hat_k(successes: Sequence[int], trials: int) -> dict[int, float]:
    """``{k: pass^k}`` for k = 1..``trials``, given each task's number of successes."""
    if trials < 1:
        raise ValueError("trials must be at least 1")
    for c in successes:
        if not 0 <= c <= trials:
            raise ValueError(f"successes must be between 0 and {trials}, got {c}")
    if not successes:
        return {k: 0.0 for k in range(1, trials + 1)}
    return {
        k: sum(comb(c, k) / comb(trials, k) for c in successes) / len(successes)
        for k in range(1, trials + 1)
    }
