"""``RecurrentEncoder``: a stacked, optionally bidirectional RNN/LSTM/GRU over padded batches.

For layer l and direction d (d = 0 reads left to right, d = 1 right to left) the cell
runs over the real steps t = 1..T_i of row i (LSTM shown; GRU and Elman RNN alike)::

    h_t, c_t = LSTM(x_t, (h_{t-1}, c_{t-1}))          forward:  t = 1, 2, ..., T_i
    h_t, c_t = LSTM(x_t, (h_{t+1}, c_{t+1}))          backward: t = T_i, ..., 2, 1
    y_t = [h_t(forward); h_t(backward)]               (input of layer l+1, after dropout)

Steps t > T_i are padding: they never enter a real step, and their outputs are 0.

Each (layer, direction) is its own single-layer unidirectional torch module, so the
same weights drive two interchangeable implementations:

- ``"packed"``: ``pack_padded_sequence`` once, run every layer on the packed data
  (padding costs no compute). The backward direction runs on the packed data permuted
  so that each row is reversed within its own length. Rows of length 0 (which
  ``pack_padded_sequence`` rejects, pytorch#4582) are left out and scattered back as 0.
- ``"padded"``: one cuDNN/oneDNN kernel call over the whole padded tensor. The forward
  direction is causal, so its real steps are exact; the backward direction sees each
  row reversed within its own length (first T_i steps reversed, padding left behind),
  so padding never reaches a real step. Padded outputs are then set to 0.

Both agree to float rounding in outputs and gradients. ``"auto"`` runs ``"padded"``:
forward + backward of a bidirectional LSTM tagging batch (N=32, lengths 5..45, E=150,
H=128) took 35 ms padded vs 69 ms packed on one CPU thread, and 2.8 ms vs 9.7 ms on an
H200 (CUDA, cuDNN); padded also won every other shape measured (1.2x to 6x), and tied on
full-length windows. (On CUDA, float32 results of the two differ by cuDNN's TF32
rounding, ~1e-3, unless ``torch.backends.cudnn.allow_tf32 = False``.)

The final state is the state after each row's last real step (after step 1 for the
backward direction); a row of length 0 returns its initial state. The padded kernel
only gives that when every row fills all T steps, so whenever the final state is
requested and lengths are ragged, the encoder runs ``"packed"`` whatever is chosen.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

# State: LSTM (h, c), each (layers * directions, N, hidden); GRU/RNN h alone.
State = Tensor | tuple[Tensor, Tensor]

_CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
IMPLEMENTATIONS = ("auto", "packed", "padded")
# What "auto" runs on each device type; measured faster on CPU and CUDA (module docstring).
AUTO_CHOICE = {"cpu": "padded", "cuda": "padded"}


class RecurrentEncoder(nn.Module):
    """Stacked (bi)directional recurrent encoder over padded batches with lengths.

    Args:
        input_size: E, the size of each input step.
        hidden: units per direction.
        cell: ``"rnn"`` (tanh), ``"lstm"`` or ``"gru"``. Default ``"lstm"``.
        layers: stacked layers. Default 1.
        bidirectional: read both directions. Default True.
        dropout: dropout probability between layers (not after the last). Default 0.
        implementation: ``"auto"``, ``"packed"`` or ``"padded"`` (see module docstring);
            an attribute, so it may be switched on a built model.

    Shape:
        - inputs: (N, T, E) floating.
        - lengths: (N,) integers in [0, T]; the first lengths[i] steps of row i are real.
        - state (optional): (layers * D, N, hidden), a pair of them for LSTM; D = 2 if
          bidirectional else 1; index layer * D + direction. None = zeros.
        - outputs: (N, T, H_out) with H_out = hidden * D; exactly 0 at padded steps.
        - final state: as ``state``, or None unless requested.

    Example::

        >>> enc = RecurrentEncoder(8, 16, bidirectional=True)
        >>> out, _ = enc(torch.randn(3, 5, 8), torch.tensor([5, 2, 0]))
        >>> out.shape, bool(out[2].abs().sum() == 0)
        (torch.Size([3, 5, 32]), True)
    """

    def __init__(
        self,
        input_size: int,
        hidden: int,
        *,
        cell: str = "lstm",
        layers: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.0,
        implementation: str = "auto",
    ) -> None:
        super().__init__()
        if cell not in _CELLS:
            raise ValueError(f"cell must be one of {', '.join(_CELLS)}, got {cell!r}")
        if implementation not in IMPLEMENTATIONS:
            raise ValueError(
                f"implementation must be one of {', '.join(IMPLEMENTATIONS)}, "
                f"got {implementation!r}"
            )
        self.input_size = input_size
        self.hidden = hidden
        self.cell = cell
        self.layers = layers
        self.directions = 2 if bidirectional else 1
        self.output_size = hidden * self.directions
        self.implementation = implementation
        self.rnns = nn.ModuleList()  # index layer * directions + direction
        for layer in range(layers):
            size = input_size if layer == 0 else self.output_size
            for _ in range(self.directions):
                self.rnns.append(_CELLS[cell](size, hidden, num_layers=1, batch_first=True))
        self.dropout = nn.Dropout(dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's uniform init; LSTM forget gates start at bias 1 (remember by default)."""
        for rnn in self.rnns:
            rnn.reset_parameters()
            if self.cell == "lstm":
                with torch.no_grad():
                    h = self.hidden
                    rnn.bias_ih_l0[h : 2 * h].fill_(1.0)
                    rnn.bias_hh_l0[h : 2 * h].zero_()

    def resolved_implementation(self, device: torch.device) -> str:
        """The implementation ``forward`` runs on ``device`` when no state is requested."""
        if self.implementation != "auto":
            return self.implementation
        return AUTO_CHOICE.get(device.type, "padded")

    def forward(
        self,
        inputs: Tensor,
        lengths: Tensor,
        state: State | None = None,
        *,
        return_state: bool = False,
    ) -> tuple[Tensor, State | None]:
        """Encode; returns ``(outputs, final_state)`` (final_state None unless requested).

        The final state is requested by ``return_state=True``; it is the state after each
        row's last real step, ready to pass as ``state`` for the next window of a stream
        (detach it first for truncated backpropagation through time).
        """
        lengths = self._check(inputs, lengths, state)
        n, t_full, _ = inputs.shape
        lengths_cpu = lengths.to("cpu", torch.int64)
        t_max = int(lengths_cpu.max()) if n else 0
        impl = self.resolved_implementation(inputs.device)
        if return_state and bool((lengths_cpu < t_max).any()):
            impl = "packed"  # the padded kernel's final state would include padding

        nonempty = (lengths_cpu > 0).nonzero().squeeze(1)  # (N',)
        if nonempty.numel() == 0:
            outputs = inputs.new_zeros(n, t_full, self.output_size)  # (N, T, H_out)
            return outputs, (self._initial(state, n, inputs) if return_state else None)
        x = inputs[:, :t_max]  # (N, T_max, E): steps past every row's length are dropped
        if impl == "packed":
            outputs, final = self._packed(x, lengths_cpu, nonempty, state)
        else:
            outputs, final = self._padded(x, lengths.to(inputs.device), state)
        if t_max < t_full:
            outputs = nn.functional.pad(outputs, (0, 0, 0, t_full - t_max))  # (N, T, H_out)
        return outputs, (final if return_state else None)

    # -- the two implementations ------------------------------------------------------

    def _packed(
        self, x: Tensor, lengths_cpu: Tensor, nonempty: Tensor, state: State | None
    ) -> tuple[Tensor, State]:
        n, t_max, _ = x.shape
        all_rows = nonempty.numel() == n
        idx = nonempty.to(x.device)
        rows = x if all_rows else x.index_select(0, idx)  # (N', T_max, E)
        packed = pack_padded_sequence(
            rows, lengths_cpu[nonempty], batch_first=True, enforce_sorted=False
        )
        reverse = _packed_reversal(packed, lengths_cpu[nonempty], t_max)  # (P,)
        init = None if state is None else _map_state(state, lambda s: s.index_select(1, idx))
        data = packed.data  # (P, E)
        finals: list[State] = []
        for layer in range(self.layers):
            if layer > 0:
                data = self.dropout(data)  # (P, H_out)
            outs = []
            for d in range(self.directions):
                k = layer * self.directions + d
                inp = data if d == 0 else data.index_select(0, reverse)  # (P, E_l)
                out, final = self.rnns[k](packed._replace(data=inp), _slice(init, k))
                outs.append(out.data if d == 0 else out.data.index_select(0, reverse))
                finals.append(final)
            data = torch.cat(outs, dim=1) if len(outs) > 1 else outs[0]  # (P, H_out)
        out, _ = pad_packed_sequence(
            packed._replace(data=data), batch_first=True, total_length=t_max
        )  # (N', T_max, H_out)
        final = _cat_states(finals)
        if all_rows:
            return out, final
        outputs = x.new_zeros(n, t_max, self.output_size).index_copy(0, idx, out)
        full = self._initial(state, n, x)
        final = _map_state2(full, final, lambda f, s: f.index_copy(1, idx, s))
        return outputs, final

    def _padded(self, x: Tensor, lengths: Tensor, state: State | None) -> tuple[Tensor, State]:
        n, t_max, _ = x.shape
        if x.device.type == "cpu" and self.directions == 2 and bool((lengths == t_max).all()):
            return self._full_rows(x, state)
        steps = torch.arange(t_max, device=x.device)  # (T_max,)
        real = steps.unsqueeze(0) < lengths.unsqueeze(1)  # (N, T_max) bool
        # rev[i, t] = T_i - 1 - t on real steps, t on padding: an involution per row.
        rev = torch.where(real, lengths.unsqueeze(1) - 1 - steps, steps)  # (N, T_max)
        rev = rev.unsqueeze(2)  # (N, T_max, 1)
        data = x.masked_fill(~real.unsqueeze(2), 0.0)  # (N, T_max, E); NaN-safe padding
        finals: list[State] = []
        for layer in range(self.layers):
            if layer > 0:
                data = self.dropout(data)  # (N, T_max, H_out)
            outs = []
            for d in range(self.directions):
                k = layer * self.directions + d
                if d == 0:
                    out, final = self.rnns[k](data, _slice(state, k))
                else:
                    flipped = data.gather(1, rev.expand(-1, -1, data.shape[2]))
                    out, final = self.rnns[k](flipped, _slice(state, k))
                    out = out.gather(1, rev.expand(-1, -1, out.shape[2]))
                outs.append(out)  # (N, T_max, hidden)
                finals.append(final)
            data = torch.cat(outs, dim=2) if len(outs) > 1 else outs[0]  # (N, T_max, H_out)
        outputs = data.masked_fill(~real.unsqueeze(2), 0.0)  # (N, T_max, H_out)
        return outputs, _cat_states(finals)

    def _full_rows(self, x: Tensor, state: State | None) -> tuple[Tensor, State]:
        """Bidirectional layers over rows that all fill the T steps: nothing to reverse
        row by row or to mask, so each layer is one bidirectional kernel call on the two
        directions' own weights (the same sums as two calls, one on time-flipped rows;
        identical outputs on CPU in float32 and bfloat16). Prediction batches rows of
        equal length for this (``rnnseq.predict_batch.length_batches``)."""
        run = {"lstm": torch.lstm, "gru": torch.gru, "rnn": torch.rnn_tanh}[self.cell]
        data = x  # (N, T, E)
        finals: list[State] = []
        for layer in range(self.layers):
            if layer > 0:
                data = self.dropout(data)  # (N, T, H_out)
            k = 2 * layer
            weights = [*self.rnns[k]._flat_weights, *self.rnns[k + 1]._flat_weights]
            if state is None:
                zeros = data.new_zeros(2, x.shape[0], self.hidden)  # (2, N, hidden)
                init = (zeros, zeros) if self.cell == "lstm" else zeros
            else:
                init = _map_state(state, lambda s, k=k: s[k : k + 2].contiguous())
            data, *final = run(data, init, weights, True, 1, 0.0, self.training, True, True)
            finals.append(tuple(final) if self.cell == "lstm" else final[0])
        return data, _cat_states(finals)

    # -- helpers ------------------------------------------------------------------------

    def _initial(self, state: State | None, n: int, like: Tensor) -> State:
        if state is not None:
            return state
        zeros = like.new_zeros(self.layers * self.directions, n, self.hidden)
        return (zeros, zeros.clone()) if self.cell == "lstm" else zeros

    def _check(self, inputs: Tensor, lengths: Tensor, state: State | None) -> Tensor:
        if inputs.dim() != 3 or inputs.shape[2] != self.input_size:
            raise ValueError(
                f"inputs must have shape (N, T, {self.input_size}), got {tuple(inputs.shape)}"
            )
        if not torch.is_floating_point(inputs):
            raise TypeError(f"inputs must be floating, got {inputs.dtype}")
        lengths = torch.as_tensor(lengths)
        if lengths.shape != inputs.shape[:1]:
            raise ValueError(
                f"lengths must have shape ({inputs.shape[0]},), got {tuple(lengths.shape)}"
            )
        if lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
            raise TypeError(f"lengths must be integers, got {lengths.dtype}")
        t = inputs.shape[1]
        if lengths.numel() and (int(lengths.min()) < 0 or int(lengths.max()) > t):
            raise ValueError(
                f"lengths must be in [0, {t}], got min {int(lengths.min())} "
                f"max {int(lengths.max())}"
            )
        if state is not None:
            want = (self.layers * self.directions, inputs.shape[0], self.hidden)
            parts = state if isinstance(state, tuple) else (state,)
            if len(parts) != (2 if self.cell == "lstm" else 1):
                raise ValueError(
                    f"state must be {'a pair (h, c)' if self.cell == 'lstm' else 'one tensor'}"
                    f" for cell {self.cell!r}"
                )
            for part in parts:
                if tuple(part.shape) != want:
                    raise ValueError(f"state must have shape {want}, got {tuple(part.shape)}")
        return lengths


def _packed_reversal(packed: PackedSequence, lengths: Tensor, t_max: int) -> Tensor:
    """Permutation of packed rows that reverses every sequence within its own length.

    Entry p holds the packed position of (row b, step T_b - 1 - t) where p is the packed
    position of (row b, step t); applying it twice gives the identity.
    """
    n = lengths.numel()
    device = packed.data.device
    flat = torch.arange(n * t_max, device=device).view(n, t_max)  # (N', T_max): b*T + t
    where = pack_padded_sequence(flat, lengths, batch_first=True, enforce_sorted=False).data
    position = torch.empty(n * t_max, dtype=torch.long, device=device)  # flat -> packed
    position[where] = torch.arange(where.numel(), device=device)
    b, t = where // t_max, where % t_max  # (P,), (P,)
    mirror = b * t_max + lengths.to(device)[b] - 1 - t  # (P,) flat index of the mirror step
    return position[mirror]


def _slice(state: State | None, k: int) -> State | None:
    if state is None:
        return None
    if isinstance(state, tuple):
        return (state[0][k : k + 1].contiguous(), state[1][k : k + 1].contiguous())
    return state[k : k + 1].contiguous()


def _cat_states(finals: list[State]) -> State:
    if isinstance(finals[0], tuple):
        return (torch.cat([f[0] for f in finals]), torch.cat([f[1] for f in finals]))
    return torch.cat(finals)


def _map_state(state: State, fn) -> State:
    return tuple(fn(s) for s in state) if isinstance(state, tuple) else fn(state)


def _map_state2(a: State, b: State, fn) -> State:
    if isinstance(a, tuple):
        return tuple(fn(x, y) for x, y in zip(a, b, strict=True))
    return fn(a, b)
