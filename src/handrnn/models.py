"""Recurrent classifiers of hand-pose sequences: the flat RNN and the hierarchical finger-to-hand HRNN.

Every model maps (x [B, T, 63] padded, lengths [B]) to logits [B, C]. Padding sits after each
sequence's last frame, so a unidirectional RNN's output at frame lengths-1 never sees it: reading
the state there is exactly what CW3's Keras masking computed.
"""

from __future__ import annotations

import math

import torch
from torch import _VF, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from .recurrent import CELLS as KERNEL_CELLS  # cells the grouped kernel runs (rnn, gru)
from .recurrent import grouped_rnn
from .skeleton import FINGERS, NUM_FEATURES, finger_feature_indices

CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}  # SimpleRNN (tanh Elman), GRU, LSTM
GATES = {"rnn": 1, "gru": 3, "lstm": 4}
NUM_FINGERS = len(FINGERS)
FINGER_INPUT = 15  # wrist + 4 joints of a finger, xyz


def last_output(out: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """out [B, T, H], lengths [B] -> [B, H], the output at each sequence's last true frame."""
    return out[torch.arange(out.shape[0]), lengths.to(out.device) - 1]


def pack(x: torch.Tensor, lengths: torch.Tensor) -> PackedSequence:
    return pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)


def final_state(rnn: nn.RNNBase, x: torch.Tensor | PackedSequence, lengths: torch.Tensor) -> torch.Tensor:
    """Top layer's state after each sequence's last true frame: [B, H]."""
    if isinstance(x, PackedSequence):
        _, h = rnn(x)
        h = h[0] if isinstance(h, tuple) else h  # LSTM returns (h, c)
        return h[-1]  # h_n is already in the caller's batch order
    out, _ = rnn(x)
    return last_output(out, lengths)


class RNNClassifier(nn.Module):
    """CW3's classifier: recurrent layer(s) over the 63 joint coordinates, dropout, a linear layer."""

    def __init__(self, *, num_classes: int = 45, cell: str = "gru", num_units: int = 128, depth: int = 1,
                 dropout: float = 0.2, pack_sequences: bool = False):  # fmt: skip
        super().__init__()
        self.pack_sequences = pack_sequences
        self.rnn = CELLS[cell](NUM_FEATURES, num_units, num_layers=depth, batch_first=True,
                               dropout=dropout if depth > 1 else 0.0)  # fmt: skip
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(num_units, num_classes)

    def forward_features(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x [B, T, 63], lengths [B] -> [B, num_units]."""
        return final_state(self.rnn, pack(x, lengths) if self.pack_sequences else x, lengths)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.forward_features(x, lengths)))

    def stream(self, x: torch.Tensor, state=None) -> tuple[torch.Tensor, object]:
        """Online use: frames x [B, T', 63] continuing from `state` -> (logits after the last frame, state)."""
        out, state = self.rnn(x, state)
        return self.head(out[:, -1]), state


class FingerRNN(nn.Module):
    """Five independent recurrent layers, one per finger, over [B, T, 5 x 15] -> [B, T, 5 x units].

    The weights are stored per finger (stacked on a leading axis of 5). `fused=True` runs GRU and
    SimpleRNN fingers as one layer through handrnn's grouped kernel (recurrent.py: one batched matmul per
    frame for all five fingers, padded frames skipped). Otherwise, and always for the LSTM (PyTorch's
    oneDNN LSTM measured faster than fusing it), five PyTorch layers run one after another.
    """

    def __init__(self, *, cell: str = "gru", units: int = 16, fused: bool = True):
        super().__init__()
        self.cell, self.units, self.fused = cell, units, fused
        g = GATES[cell] * units
        self.weight_ih = nn.Parameter(torch.empty(NUM_FINGERS, g, FINGER_INPUT))
        self.weight_hh = nn.Parameter(torch.empty(NUM_FINGERS, g, units))
        self.bias_ih = nn.Parameter(torch.empty(NUM_FINGERS, g))
        self.bias_hh = nn.Parameter(torch.empty(NUM_FINGERS, g))
        bound = 1.0 / math.sqrt(units)  # nn.RNN's initialisation
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    @property
    def grouped(self) -> bool:
        """True when the five fingers run as one layer through the grouped kernel."""
        return self.fused and self.cell in KERNEL_CELLS

    def _grouped(self, x: torch.Tensor, lengths: torch.Tensor | None, h0=None):
        return grouped_rnn(self.cell, x, lengths, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, h0)

    def _torch_layer(self, f: int, x: torch.Tensor | PackedSequence, hx=None):
        """Finger f's layer as PyTorch runs it (the reference) -> (output, state)."""
        packed = isinstance(x, PackedSequence)
        data = x.data if packed else x
        if hx is None:
            h0 = data.new_zeros(1, int(x.batch_sizes[0]) if packed else x.shape[0], self.units)
            hx = (h0, h0) if self.cell == "lstm" else h0
        weights = [self.weight_ih[f], self.weight_hh[f], self.bias_ih[f], self.bias_hh[f]]
        fn = {"gru": _VF.gru, "lstm": _VF.lstm, "rnn": _VF.rnn_tanh}[self.cell]
        if packed:
            out, *h = fn(data, x.batch_sizes, hx, weights, True, 1, 0.0, self.training, False)
            out = x._replace(data=out)
        else:
            out, *h = fn(data, hx, weights, True, 1, 0.0, self.training, False, True)
        return out, (tuple(h) if self.cell == "lstm" else h[0])

    def _five_layers(self, x: torch.Tensor | PackedSequence, states=None):
        outs, new_states = [], []
        for f in range(NUM_FINGERS):
            cols = slice(f * FINGER_INPUT, (f + 1) * FINGER_INPUT)
            xf = x._replace(data=x.data[:, cols]) if isinstance(x, PackedSequence) else x[..., cols]
            out, state = self._torch_layer(f, xf, None if states is None else states[f])
            outs.append(out)
            new_states.append(state)
        if isinstance(x, PackedSequence):
            return x._replace(data=torch.cat([o.data for o in outs], dim=-1)), new_states
        return torch.cat(outs, dim=-1), new_states

    def step(self, x: torch.Tensor, state=None) -> tuple[torch.Tensor, object]:
        """Streaming: x [B, T', 75] continuing from `state` (None = start) -> ([B, T', 5 x units], state)."""
        return self._grouped(x, None, state) if self.grouped else self._five_layers(x, state)

    def forward(self, x: torch.Tensor | PackedSequence, lengths: torch.Tensor | None = None):
        """x [B, T, 75] (fingers in order, 15 features each) or packed -> [B, T, 5 x units] or packed.
        Grouped: x padded with lengths [B] (None: all frames); frames after a sequence's end give 0."""
        if self.grouped:
            if isinstance(x, PackedSequence):
                raise ValueError("the grouped kernel reads padded input with lengths, not a PackedSequence")
            return self._grouped(x, lengths)[0]
        return self._five_layers(x)[0]


class HRNN(nn.Module):
    """CW3's hierarchical RNN: a recurrent layer per finger (wrist + 4 joints), then one over the hand.

    `fused=True` (default) runs GRU/SimpleRNN layers through handrnn's grouped kernel (the five fingers
    as one layer; the hand layer too), skipping padded frames in every length mode; LSTM layers stay
    PyTorch's. `fused=False` runs PyTorch's layers only: five finger layers one after another, then the
    hand layer (the reference). Both read the same parameters, so a checkpoint runs either way.
    """

    def __init__(self, *, num_classes: int = 45, cell1: str = "gru", cell2: str = "gru", num_units1: int = 16,
                 num_units2: int = 160, dropout: float = 0.2, fused: bool = True, pack_sequences: bool = False):  # fmt: skip
        super().__init__()
        self.pack_sequences, self.cell2 = pack_sequences, cell2
        cols = [c for f in range(NUM_FINGERS) for c in finger_feature_indices(f)]
        self.register_buffer("finger_columns", torch.tensor(cols), persistent=False)
        self.fingers = FingerRNN(cell=cell1, units=num_units1, fused=fused)
        self.hand = CELLS[cell2](NUM_FINGERS * num_units1, num_units2, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(num_units2, num_classes)

    @property
    def hand_grouped(self) -> bool:
        return self.fingers.fused and self.cell2 in KERNEL_CELLS

    def _hand_kernel(self, h: torch.Tensor, lengths: torch.Tensor | None, h0=None):
        """The hand layer through the grouped kernel, as a single group -> (out, last [1, B, H])."""
        hand = self.hand
        weights = [w.unsqueeze(0) for w in (hand.weight_ih_l0, hand.weight_hh_l0, hand.bias_ih_l0, hand.bias_hh_l0)]
        return grouped_rnn(self.cell2, h, lengths, *weights, h0)

    def forward_features(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x [B, T, 63], lengths [B] -> [B, num_units2]."""
        x = x[..., self.finger_columns]  # [B, T, 75]: five [T, 15] finger blocks side by side
        if self.fingers.grouped:  # padded frames are skipped, so the padding itself can go
            x = x[:, : int(lengths.max())]
            h = self.fingers(x, lengths)  # [B, T, 5 x units1]
        else:
            h = self.fingers(pack(x, lengths) if self.pack_sequences else x)
        if self.hand_grouped:
            if isinstance(h, PackedSequence):
                h = pad_packed_sequence(h, batch_first=True)[0]
            return self._hand_kernel(h, lengths)[1][0]
        if self.pack_sequences and not isinstance(h, PackedSequence):
            h = pack(h, lengths)
        return final_state(self.hand, h, lengths)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.forward_features(x, lengths)))

    def stream(self, x: torch.Tensor, state=None) -> tuple[torch.Tensor, object]:
        """Online use: frames x [B, T', 63] continuing from `state` -> (logits after the last frame, state)."""
        fingers, hand = state if state is not None else (None, None)
        h, fingers = self.fingers.step(x[..., self.finger_columns], fingers)
        out, hand = self._hand_kernel(h, None, hand) if self.hand_grouped else self.hand(h, hand)
        return self.head(out[:, -1]), (fingers, hand)


MODELS = {"rnn": RNNClassifier, "hrnn": HRNN}
