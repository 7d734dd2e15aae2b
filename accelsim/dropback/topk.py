"""Exact top-k selection over a 1-D tensor of scores, fast when the set changes little.

Order: higher score first; equal scores -> lower position first; a NaN score ranks below every
other score. Exactly min(k, n) positions are selected. Nothing here knows of DropBack: the
optimizer (`accelsim.dropback.optimizer`) scores its elements and keeps the set this returns.

The selection is no sort, and it is exact for any previous set S of k elements. A threshold
t is *valid* when at least k elements score >= t; then the new k-th score is >= t and the
new set lies in S plus the e unselected "newcomers" with score >= t. The first t is just
below the last k-th score (the caller's hint); under high churn (e.g. Adam) a guess from a
1/16 sample of the scores. An invalid t is replaced by the k-th largest score of its
candidates, which is valid by construction; min score over S (S alone has k elements >= it)
is the last resort. Newcomers are found by hiding S and scanning maxima of blocks of
`SCAN_BLOCK` elements, then the hot blocks only; of the k + e candidates the e lowest drop out
(`topk`/`kthvalue` among the few that can), ties at the k-th score resolved by index. Without
S (a first selection), or with a NaN among S, every score is ranked (`kthvalue`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

# the newcomer scan looks at maxima of blocks of SCAN_BLOCK elements, then inside the hot
# blocks only; when hot blocks exceed 1/HOT_BLOCK_LIMIT of the buffer it compares everything
SCAN_BLOCK = 64
HOT_BLOCK_LIMIT = 2
FEW_HOT_ELEMENTS = 16384  # up to this many elements in hot blocks, one bulk position table
# the scan threshold starts just below the last k-th score (scores drift little in between)
SCAN_MARGIN = 0.9
# the new k-th score is first looked for at most UPPER_MARGIN x (threshold or last k-th score)
UPPER_MARGIN = 1.25
# when many unselected scores reach the first threshold, a guess from every SAMPLE_STRIDE-th
# score aims at SAMPLE_SLACK * k newcomers instead
SAMPLE_STRIDE = 16
SAMPLE_SLACK = 1.25
# the e + 1 lowest of n candidates: topk when e + 1 <= n / TOPK_FRACTION, else kthvalue
TOPK_FRACTION = 4
HIDDEN_SCORE = -1.0  # below any real score (scores are >= 0): hides an element from the scan


@dataclass
class Selection:
    """A new selected set and how it differs from the previous one (positions, any order)."""

    index: torch.Tensor
    threshold: float  # the k-th score
    entered: torch.Tensor
    left: torch.Tensor


def empty_positions(device):
    return torch.empty(0, dtype=torch.int64, device=device)


def rank_all(scores, count: int):
    """Exact top-`count` by ranking every score: (ascending positions, k-th score)."""
    total = scores.numel()
    if count <= 0:
        return empty_positions(scores.device), math.inf
    ranked = torch.nan_to_num(scores, nan=HIDDEN_SCORE)  # NaN (diverged) ranks last
    if count >= total:
        return torch.arange(total, device=scores.device), float(ranked.min())
    # kthvalue counts from the smallest: the count-th largest is the (n-count+1)-th smallest
    kth_score = ranked.kthvalue(total - count + 1).values
    chosen = ranked >= kth_score
    surplus = int(chosen.sum()) - count
    if surplus:  # several share the k-th score: the highest positions among them drop out
        tied = torch.nonzero(ranked == kth_score).squeeze(1)
        chosen[tied[tied.numel() - surplus:]] = False
    return torch.nonzero(chosen).squeeze(1), float(kth_score)


def block_layout(scores):
    """(whole blocks of `scores` as a 2-D view, offsets 0..SCAN_BLOCK-1) for `_BlockScan`."""
    whole = scores.numel() - scores.numel() % SCAN_BLOCK
    return (scores[:whole].view(-1, SCAN_BLOCK),
            torch.arange(SCAN_BLOCK, device=scores.device))


class _BlockScan:
    """Finds the positions with score >= t in a 1-D tensor, for several t, cheaply when they
    are few: block maxima are computed once, then only blocks reaching t are searched.
    (Plain index_select/masked_select below: they dispatch faster than [] indexing.)"""

    def __init__(self, scores, layout=None, block_max=None):
        self.scores = scores
        total = scores.numel()
        self.whole = total - total % SCAN_BLOCK
        self.blocks, self.offsets_in_block = layout or block_layout(scores)
        # a NaN block maximum becomes +inf: the block is searched, its NaN never matches
        # (block_max: the same, computed by the caller, `accelsim.dropback.fused`)
        self.block_max = (self.blocks.amax(1).nan_to_num_(nan=math.inf) if block_max is None
                          else block_max)
        # (threshold, hot blocks) of the last query
        self._hot: tuple[float | None, torch.Tensor | None] = (None, None)

    def highest(self) -> float:
        """The highest score (inf if any is NaN)."""
        parts = [self.block_max] if self.block_max.numel() else []
        if self.whole < self.scores.numel():
            parts.append(self.scores[self.whole:].nan_to_num(nan=math.inf))
        return max((float(part.max()) for part in parts), default=-math.inf)

    def hot_blocks(self, threshold: float):
        """(hot blocks, 1): the blocks whose maximum reaches the threshold."""
        if self._hot[0] != threshold:
            self._hot = (threshold, torch.nonzero(self.block_max >= threshold))
        return self._hot[1]

    def selective(self, threshold: float) -> bool:
        """True if few blocks reach the threshold (searching them beats comparing all)."""
        return self.hot_blocks(threshold).numel() * SCAN_BLOCK * HOT_BLOCK_LIMIT <= \
            self.scores.numel()

    def sampled_threshold(self, count: int) -> float:
        """A threshold that about SAMPLE_SLACK * count scores reach, from every
        SAMPLE_STRIDE-th score (a guess, checked by the caller), or -inf."""
        sample = self.scores[::SAMPLE_STRIDE]
        rank = math.ceil(count * SAMPLE_SLACK / SAMPLE_STRIDE)
        if not 0 < rank <= sample.numel():
            return -math.inf
        guess = float(sample.kthvalue(sample.numel() - rank + 1).values)
        return guess if math.isfinite(guess) else -math.inf

    def positions_at_least(self, threshold: float):
        """Ascending positions whose score is >= threshold."""
        total = self.scores.numel()
        if not self.selective(threshold):  # many: compare everything
            return torch.nonzero(self.scores >= threshold).squeeze(1)
        hot = self.hot_blocks(threshold)
        hot_scores = self.blocks.index_select(0, hot.view(-1))
        if hot_scores.numel() <= FEW_HOT_ELEMENTS:  # fewest operations
            hot_positions = torch.add(self.offsets_in_block, hot, alpha=SCAN_BLOCK)
            found = hot_positions.masked_select(hot_scores >= threshold)
        else:  # least memory: positions of the hits only
            hits = torch.nonzero(hot_scores >= threshold)
            found = hot.view(-1).index_select(0, hits[:, 0]).mul_(SCAN_BLOCK).add_(hits[:, 1])
        if self.whole == total:
            return found
        tail = torch.nonzero(self.scores[self.whole:] >= threshold).squeeze(1).add_(self.whole)
        return torch.cat([found, tail])


def _first_threshold(floor: float, hint, scan, count: int) -> float:
    """The first newcomer-scan threshold: just below the last k-th score, or, when many
    unselected scores reach that (high churn, e.g. under Adam), a guess from a sample; without
    a last k-th score, the best unselected score."""
    if hint is None or not math.isfinite(hint) or hint * SCAN_MARGIN <= floor:
        return _below_or_floor(scan.highest(), math.inf, floor)
    first = hint * SCAN_MARGIN
    if not scan.selective(first):
        return max(first, scan.sampled_threshold(count))
    return first


def _below_or_floor(candidate: float, ceiling: float, floor: float) -> float:
    """`candidate` if it lies in (floor, ceiling), else the always-valid floor."""
    return candidate if floor < candidate < ceiling else floor


def update_selection(scores, count: int, previous, hint=None, layout=None):
    """Exact top-`count` given any previous set of `count` distinct positions, or None if it
    cannot tell (a NaN score in the previous set). Overwrites `scores` at those positions.
    `scores` may end with padding set to HIDDEN_SCORE (whole scan blocks: fewer operations).

    A threshold t is *valid* when at least k elements score >= t: then the new k-th score v is
    >= t, and only the previous set S and the unselected "newcomers" with score >= t can be in
    the new set; v is the k-th largest of those k + e candidates, i.e. the (e+1)-th smallest,
    and t was valid exactly when that is >= t. floor = min score over S is always valid (S
    alone has k scores >= it); so is the k-th largest of any candidate set, which is where an
    invalid guess moves next: at most a few tries."""
    previous_scores = scores.index_select(0, previous)
    if not float(previous_scores.min()) >= 0:
        return None
    scores.index_fill_(0, previous, HIDDEN_SCORE)  # the scan looks at unselected elements only
    return update_hidden_selection(scores, count, previous, previous_scores, hint, layout)


def update_hidden_selection(scores, count: int, previous, previous_scores, hint=None,
                            layout=None, block_max=None):
    """`update_selection` with its first part done by the caller: `scores` already holds
    HIDDEN_SCORE at `previous`, whose own scores are `previous_scores` (all >= 0: a NaN
    among them is the caller's to handle); block_max, if given, is `_BlockScan`'s."""
    floor = float(previous_scores.min())
    scan = _BlockScan(scores, layout, block_max)
    threshold = _first_threshold(floor, hint, scan, count)
    while True:
        newcomers = scan.positions_at_least(threshold)
        if not newcomers.numel():
            if threshold <= floor:  # nothing reaches the weakest selected score: same set
                return Selection(previous, floor, newcomers, newcomers)
            # some selected fell below the threshold and no newcomer reaches it: go as low as
            # the best unselected score (or the floor)
            threshold = _below_or_floor(scan.highest(), threshold, floor)
            continue
        newcomer_scores = scores.index_select(0, newcomers)
        candidate_scores = torch.cat([previous_scores, newcomer_scores])
        # the e + 1 lowest candidates all score <= the highest of any e + 1 of them
        safe_upper = max(floor, float(newcomer_scores.max()))
        guessed_upper = max(threshold, hint or 0.0) * UPPER_MARGIN
        below, kth_score = _below_kth(candidate_scores, newcomers.numel(),
                                      min(safe_upper, guessed_upper), safe_upper)
        if kth_score >= threshold:
            break
        threshold = kth_score  # a k-th largest of some elements: valid, and the next try holds
    dropped = below
    if below.numel() < newcomers.numel():  # ties at the k-th score: highest positions drop
        dropped = _dropped_among_ties(candidate_scores, torch.cat([previous, newcomers]),
                                      below, kth_score, newcomers.numel())
    return _split_changes(previous, newcomers, dropped, kth_score)


def _below_kth(candidate_scores, drop_count: int, upper: float, safe_upper: float):
    """(candidates scoring below the k-th score, the k-th score), where the k-th score is the
    (drop_count+1)-th lowest candidate score. Only candidates <= upper are ranked, enough of
    them if at least drop_count + 1 (else `safe_upper`, which is always enough, is used)."""
    low = torch.nonzero(candidate_scores <= upper).squeeze(1)
    if low.numel() <= drop_count and upper < safe_upper:
        low = torch.nonzero(candidate_scores <= safe_upper).squeeze(1)
    low_scores = candidate_scores.index_select(0, low)
    if (drop_count + 1) * TOPK_FRACTION <= low.numel():  # few: a partial sort is quickest
        ranked = torch.topk(low_scores, drop_count + 1, largest=False).values
        kth_score = float(ranked[drop_count])
    else:
        kth_score = float(low_scores.kthvalue(drop_count + 1).values)
    return low.masked_select(low_scores < kth_score), kth_score


def _dropped_among_ties(candidate_scores, candidate_index, below, kth_score, drop_count: int):
    """The `drop_count` candidates to drop when some tie with the k-th score: all those below
    it, then the tied ones with the highest global position."""
    tied = torch.nonzero(candidate_scores == kth_score).squeeze(1)
    by_position = torch.argsort(candidate_index.index_select(0, tied), descending=True)
    tied_count = drop_count - below.numel()
    return torch.cat([below, tied.index_select(0, by_position[:tied_count])])


def _split_changes(previous, newcomers, dropped, kth_score):
    """The new set from the dropped candidate numbers (previous first, then newcomers)."""
    count = previous.numel()
    from_previous = dropped < count
    left_slots = dropped.masked_select(from_previous)
    newcomer_kept = torch.ones(newcomers.numel(), dtype=torch.bool, device=newcomers.device)
    newcomer_kept.index_fill_(0, dropped.masked_select(~from_previous).sub_(count), False)
    entered = newcomers.masked_select(newcomer_kept)
    index = previous.clone().index_copy_(0, left_slots, entered)  # entrants take freed slots
    return Selection(index, kth_score, entered=entered,
                      left=previous.index_select(0, left_slots))


def select_top_k(scores, count: int, previous=None, hint=None):
    """Exact top-`count` of a 1-D tensor of scores (>= 0; NaN ranks last):
    (ascending positions, k-th score). Order: higher score first, equal scores -> lower
    position first. `previous`, any set of `count` distinct positions (the last selection), and
    `hint`, a guess of the k-th score, only make it faster; the result does not depend on
    them."""
    total = scores.numel()
    if previous is not None and previous.numel() == count and 0 < count < total:
        selection = update_selection(scores.detach().clone(), count, previous, hint)
        if selection is not None:
            return torch.sort(selection.index).values, selection.threshold
    return rank_all(scores.detach(), count)
