"""Fast kernels behind :mod:`rnnseq.losses`, and the plan that chooses and cuts their work.

- :mod:`~rnnseq.kernels.plan`: :class:`KernelPlan` (path, chunk sizes, thresholds),
  :func:`default_plan` per device and thread count, :func:`current_plan`, and
  :func:`use_plan`, a thread-local override for a ``with`` block.
- :mod:`~rnnseq.kernels.softmax_math`: the softmax cross-entropy of a row and its
  gradient, in the pieces both kernels share.
- :mod:`~rnnseq.kernels.cross_entropy`: the per-step cross-entropy of given logits
  as one autograd Function (the "fused" path).
- :mod:`~rnnseq.kernels.linear_cross_entropy`: an output layer and the loss together,
  a chunk of steps at a time, never forming all the logits.
- :mod:`~rnnseq.kernels.gradient_cache`: the reusable CPU gradient buffer.

The package exports the plan; the kernels themselves are reached through their
modules (``kernels.cross_entropy.cross_entropy_per_step``,
``kernels.linear_cross_entropy.linear_cross_entropy``). They take inputs that
:mod:`rnnseq.losses` has checked; call the losses, not these, unless you are
writing a loss.
"""

from rnnseq.kernels import cross_entropy, linear_cross_entropy
from rnnseq.kernels.gradient_cache import clear_gradient_cache
from rnnseq.kernels.plan import (
    PATHS,
    KernelPlan,
    current_plan,
    default_plan,
    use_fused,
    use_linear_head,
    use_plan,
)

__all__ = [
    "PATHS",
    "KernelPlan",
    "default_plan",
    "current_plan",
    "use_plan",
    "use_fused",
    "use_linear_head",
    "clear_gradient_cache",
    "cross_entropy",
    "linear_cross_entropy",
]
