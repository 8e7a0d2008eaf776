"""Aligning the layers of two or more networks (Needleman-Wunsch on canonical signatures)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from modelboard.canonical import in_signature, signature_layers
from modelboard.records import LayerRecord, NetworkRecord

__all__ = ["AlignedLayer", "leaf_layers", "align_pair", "align_networks"]

MATCH = 2.0
SAME_CONFIG = 1.0
SAME_PARAMS = 1.0
MISMATCH = -3.0  # below two gaps: layers of different types never share a row
GAP = -1.0


@dataclass(frozen=True)
class AlignedLayer:
    """One leaf layer in framework-neutral form, with where it came from."""

    path: str
    type: str
    canonical_type: str
    config: dict[str, Any]
    params: int

    def key(self) -> str:
        """Type and canonical config as text (equal for equal layers in any framework)."""
        return json.dumps([self.canonical_type, self.config], sort_keys=True, default=str)


def leaf_layers(network: NetworkRecord | None) -> list[AlignedLayer]:
    """The layers ``signature_layers`` keeps (no containers, inputs, folded activations, layers
    that did not run), the path of each kept."""
    if network is None:
        return []
    kept: list[LayerRecord] = [layer for layer in network.layers if in_signature(layer)]
    signature = signature_layers(network.layers)
    return [
        AlignedLayer(layer.path, layer.type, sig["type"], sig["config"], int(sig["params"]))
        for layer, sig in zip(kept, signature, strict=True)
    ]


def _score(a: AlignedLayer, b: AlignedLayer) -> float:
    if a.canonical_type != b.canonical_type:
        return MISMATCH
    score = MATCH
    if a.config == b.config:
        score += SAME_CONFIG
    if a.params == b.params:
        score += SAME_PARAMS
    return score


def align_pair(
    a: Sequence[AlignedLayer], b: Sequence[AlignedLayer]
) -> list[tuple[int | None, int | None]]:
    """Global alignment of two layer sequences: index pairs, ``None`` where one side has a gap."""
    n, m = len(a), len(b)
    score = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        score[i][0] = i * GAP
    for j in range(1, m + 1):
        score[0][j] = j * GAP
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            score[i][j] = max(
                score[i - 1][j - 1] + _score(a[i - 1], b[j - 1]),
                score[i - 1][j] + GAP,
                score[i][j - 1] + GAP,
            )
    pairs: list[tuple[int | None, int | None]] = []
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and score[i][j] == score[i - 1][j - 1] + _score(a[i - 1], b[j - 1]):
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i > 0 and score[i][j] == score[i - 1][j] + GAP:
            pairs.append((i - 1, None))
            i -= 1
        else:
            pairs.append((None, j - 1))
            j -= 1
    pairs.reverse()
    return pairs


def align_networks(sequences: Sequence[Sequence[AlignedLayer]]) -> list[list[int | None]]:
    """Rows of layer indices, one column per network (``None``: a gap).

    Every network is aligned to the first (a star alignment); layers that only a later network
    has get rows of their own after the first network's layer they follow.
    """
    if not sequences:
        return []
    reference = sequences[0]
    count = len(sequences)
    # slot s holds what comes after reference layer s-1 (slot 0: before the first)
    matched: list[list[int | None]] = [[i] + [None] * (count - 1) for i in range(len(reference))]
    inserted: list[list[list[int | None]]] = [[] for _ in range(len(reference) + 1)]
    for k in range(1, count):
        slot = 0
        for ref_index, other_index in align_pair(reference, sequences[k]):
            if ref_index is not None:
                matched[ref_index][k] = other_index
                slot = ref_index + 1
            else:
                row: list[int | None] = [None] * count
                row[k] = other_index
                inserted[slot].append(row)
    rows: list[list[int | None]] = list(inserted[0])
    for i in range(len(reference)):
        rows.append(matched[i])
        rows.extend(inserted[i + 1])
    return rows
