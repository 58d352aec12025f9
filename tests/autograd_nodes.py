"""What a loss was computed by: the autograd nodes behind it (for the dispatch tests)."""

from __future__ import annotations

import torch


def graph_nodes(loss: torch.Tensor) -> set[str]:
    """The type names of the autograd nodes behind ``loss``."""
    seen, names, stack = set(), set(), [loss.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        names.add(type(node).__name__)
        stack.extend(next_node for next_node, _ in node.next_functions)
    return names
