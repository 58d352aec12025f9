"""One reusable CPU buffer for the logits' gradient, like a one-slot caching allocator.

(The fused loss's forward pass borrows the same memory for its slice buffer:
the last gradient's memory is free by then, and free again when the next
gradient is made.)

A large gradient written into fresh memory pays a page fault per page on its
first write; handing out the last gradient's memory again, once nothing holds
it, pays that once instead of at every step (docs/PERFORMANCE.md has the
measurement). The price is that the last buffer stays allocated between steps;
:func:`clear_gradient_cache` lets it go.
"""

from __future__ import annotations

import sys
import threading

import numpy as np
import torch
from torch import Tensor

__all__ = ["new_gradient", "clear_gradient_cache"]


class GradientCache:
    """One CPU buffer, handed out again only when nobody holds the last tensor made on it.

    The buffer is a NumPy array viewed by torch, so whether anything still uses
    the last gradient can be told from the array's reference count: torch's
    storage holds one reference for as long as any tensor or view of that
    gradient is alive. Only a buffer nobody holds is handed out again, so a
    gradient the user kept is never overwritten. NumPy also asks Linux for
    transparent huge pages for such large arrays, which makes the first use cheaper.
    """

    def __init__(self) -> None:
        self._array: np.ndarray | None = None
        self._lock = threading.Lock()

    def empty(self, rows: int, cols: int, dtype: torch.dtype) -> Tensor:
        """An uninitialised (rows, cols) CPU tensor, on the cached memory when it is free."""
        nbytes = rows * cols * torch.empty((), dtype=dtype).element_size()
        with self._lock:
            # References to a free buffer: self._array and getrefcount's argument.
            free = self._array is not None and sys.getrefcount(self._array) <= 2
            if not (free and self._array.nbytes >= nbytes):
                self._array = np.empty(nbytes, dtype=np.uint8)
            flat = torch.from_numpy(self._array[:nbytes])  # holds a reference while alive
        return flat.view(dtype).view(rows, cols)

    def clear(self) -> None:
        with self._lock:
            self._array = None


_gradients = GradientCache()


def clear_gradient_cache() -> None:
    """Let the memory of the last fused-loss gradient go once nothing else holds it."""
    _gradients.clear()


def new_gradient(
    rows: int, cols: int, dtype: torch.dtype, device: torch.device, min_cached_bytes: int | None
) -> Tensor:
    """An uninitialised (rows, cols) gradient; a CPU one of at least ``min_cached_bytes``
    (None: never) comes from the cache."""
    nbytes = rows * cols * torch.empty((), dtype=dtype).element_size()
    if device.type != "cpu" or min_cached_bytes is None or nbytes < min_cached_bytes:
        return torch.empty(rows, cols, dtype=dtype, device=device)
    return _gradients.empty(rows, cols, dtype)
