"""Recurrent classifiers of hand-pose sequences: the flat RNN and the hierarchical finger-to-hand HRNN.

Every model maps (x [B, T, D] padded, lengths [B]) to logits [B, C] (D = 63 for CW3's coordinates).
Padding sits after each sequence's last frame, so a unidirectional RNN's output at frame lengths-1
never sees it: reading the state there is exactly what CW3's Keras masking computed. A backward
direction reads each sequence reversed within its own length, so it starts at the true last frame,
and pooling reads valid frames only: every length mode gives the same logits.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from . import features
from .config import Config
from .recurrent import CELLS as GROUPED_CELLS  # cells the grouped kernel runs (rnn, gru)
from .recurrent import grouped_rnn
from .skeleton import FINGER_JOINTS, NUM_COORDS, NUM_FEATURES, NUM_FINGERS, NUM_JOINTS, finger_feature_indices

CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}  # SimpleRNN (tanh Elman), GRU, LSTM
GATES = {"rnn": 1, "gru": 3, "lstm": 4}
Mix = Callable[[torch.Tensor], torch.Tensor]  # pooled features [B, F] -> [B, F]


def unmixed(features: torch.Tensor) -> torch.Tensor:
    """The Mix of evaluation and of training without mixup: the features as they are."""
    return features


def last_output(out: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """out [B, T, H], lengths [B] -> [B, H], the output at each sequence's last true frame."""
    return out[torch.arange(out.shape[0]), lengths.to(out.device) - 1]


def pack(x: torch.Tensor, lengths: torch.Tensor) -> PackedSequence:
    return pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)


def valid_mask(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """[B, T] bool, True at each sequence's true frames."""
    return torch.arange(steps, device=lengths.device)[None, :] < lengths[:, None]


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Each sequence of x [B, T, F] reversed within its own length; padding stays after it."""
    steps = x.shape[1]
    t = torch.arange(steps, device=x.device)[None, :]
    lengths = lengths.to(x.device)[:, None]
    index = torch.where(t < lengths, lengths - 1 - t, t)  # [B, T]
    return x.gather(1, index[..., None].expand(-1, -1, x.shape[2]))


class Pool(nn.Module):
    """Frame outputs [B, T, F] -> [B, F] over each sequence's valid frames: mean, max or attention.
    ("last", the state at the last true frame, is read by the models themselves.)"""

    def __init__(self, kind: str, width: int):
        super().__init__()
        self.kind = kind
        self.score = nn.Linear(width, 1) if kind == "attention" else None

    def forward(self, out: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = valid_mask(lengths.to(out.device), out.shape[1])[..., None]  # [B, T, 1]
        if self.kind == "mean":
            return (out * mask).sum(1) / mask.sum(1)
        if self.kind == "max":
            return out.masked_fill(~mask, float("-inf")).amax(1)
        weights = self.score(out).masked_fill(~mask, float("-inf")).softmax(1)  # attention: [B, T, 1]
        return (weights * out).sum(1)


def final_state(rnn: nn.RNNBase, x: torch.Tensor | PackedSequence, lengths: torch.Tensor) -> torch.Tensor:
    """Top layer's state after each sequence's last true frame: [B, H]."""
    if isinstance(x, PackedSequence):
        _, h = rnn(x)
        h = h[0] if isinstance(h, tuple) else h  # LSTM returns (h, c)
        return h[-1]  # h_n is already in the caller's batch order
    out, _ = rnn(x)
    return last_output(out, lengths)


class Classifier(nn.Module):
    """What both networks share: forward_features (subclass) -> layer norm (or none), dropout, linear head."""

    head: nn.Linear

    @property
    def num_classes(self) -> int:
        return self.head.out_features

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.norm(features)))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, mix: Mix = unmixed) -> torch.Tensor:
        """`mix` (training only) transforms the pooled features before the head: manifold mixup."""
        return self.forward_head(mix(self.forward_features(x, lengths)))


class RNNClassifier(Classifier):
    """CW3's classifier: recurrent layer(s) over each frame's input, dropout, a linear layer.

    Beyond CW3: `bidirectional` adds a backward layer beside each forward one (the next layer reads both);
    `pool` reads the frame outputs by mean, max or attention instead of the last state; `layer_norm`
    normalises the pooled features.
    """

    def __init__(
        self,
        *,
        num_classes: int = 45,
        input_size: int = NUM_FEATURES,
        cell: str = "gru",
        num_units: int = 128,
        depth: int = 1,
        dropout: float = 0.2,
        bidirectional: bool = False,
        pool: str = "last",
        layer_norm: bool = False,
        pack_sequences: bool = False,
        input_columns: list[int] | None = None,
    ):
        super().__init__()
        self.pack_sequences, self.bidirectional, self.pool_kind = pack_sequences, bidirectional, pool
        # the input columns this network reads (None: all); rebuilt from the config, so not in checkpoints
        columns = None if input_columns is None else torch.tensor(input_columns)
        self.register_buffer("input_columns", columns, persistent=False)
        input_size = input_size if input_columns is None else len(input_columns)
        self.cell, self.depth = cell, depth
        self.grouped = False  # run the layers through the grouped kernel (fused_outputs) where the cell allows
        inner_dropout = dropout if depth > 1 else 0.0
        if bidirectional:
            self.layers = nn.ModuleList(
                nn.ModuleList(
                    CELLS[cell](input_size if i == 0 else 2 * num_units, num_units, batch_first=True) for _ in range(2)
                )
                for i in range(depth)
            )
            self.inner_dropout = nn.Dropout(inner_dropout)
        else:
            self.rnn = CELLS[cell](input_size, num_units, num_layers=depth, batch_first=True, dropout=inner_dropout)
        width = num_units * (2 if bidirectional else 1)
        self.pool = Pool(pool, width) if pool != "last" else None
        self.norm = nn.LayerNorm(width) if layer_norm else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(width, num_classes)

    def _bidirectional_outputs(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x [B, T, D] -> [B, T, 2H]: forward outputs, then backward outputs, per frame."""
        for i, (forward, backward) in enumerate(self.layers):
            if i:
                x = self.inner_dropout(x)
            out_f, _ = forward(x)
            out_b, _ = backward(reverse_padded(x, lengths))
            x = torch.cat([out_f, reverse_padded(out_b, lengths)], -1)
        return x

    def select(self, x: torch.Tensor) -> torch.Tensor:
        """The input columns this network reads: x [B, T, D] -> [B, T, input_size]."""
        return x if self.input_columns is None else x[..., self.input_columns]

    def forward_features(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x [B, T, D], lengths [B] -> [B, F] (F = num_units, or 2 x num_units when bidirectional)."""
        if self.grouped and self.can_group() and kernel_runs_on(x):
            return self.read_out(fused_outputs([self], x, lengths)[0], lengths)  # it selects the columns
        x = self.select(x)
        if self.bidirectional:
            return self.read_out(self._bidirectional_outputs(x, lengths), lengths)
        if self.pool is not None:
            return self.pool(self.rnn(x)[0], lengths)
        return final_state(self.rnn, pack(x, lengths) if self.pack_sequences else x, lengths)

    def can_group(self) -> bool:
        """Whether the grouped kernel can run this network's layers (GRU/SimpleRNN on padded batches)."""
        return self.cell in GROUPED_CELLS and not self.pack_sequences

    def read_out(self, out: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The top layer's frame outputs [B, T, F] (backward half, if any, in frame order) -> features [B, F]."""
        if self.pool is not None:
            return self.pool(out, lengths)
        if not self.bidirectional:
            return last_output(out, lengths)
        half = out.shape[-1] // 2  # forward state after the last frame, backward state after the first
        return torch.cat([last_output(out[..., :half], lengths), out[:, 0, half:]], -1)

    def layer_weights(self, layer: int) -> list[tuple[torch.Tensor, ...]]:
        """(w_ih, w_hh, b_ih, b_hh) of each direction (forward first) of recurrent layer `layer`."""
        if self.bidirectional:
            return [(r.weight_ih_l0, r.weight_hh_l0, r.bias_ih_l0, r.bias_hh_l0) for r in self.layers[layer]]
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        return [tuple(getattr(self.rnn, f"{n}_l{layer}") for n in names)]

    def layer_dropout(self, x: torch.Tensor) -> torch.Tensor:
        """What the layers between recurrent layers do to their input (dropout when depth > 1)."""
        if self.bidirectional:
            return self.inner_dropout(x)
        return nn.functional.dropout(x, self.rnn.dropout, self.training)

    def stream(self, x: torch.Tensor, state=None) -> tuple[torch.Tensor, object]:
        """Online use: frames x [B, T', D] continuing from `state` -> (logits after the last frame, state).
        Exact for last, mean and max pooling (the pooled value is carried); a backward layer or attention
        needs the whole sequence."""
        if self.bidirectional or self.pool_kind == "attention":
            raise ValueError("a bidirectional or attention-pooled model needs the whole sequence; it cannot stream")
        rnn_state, acc, seen = state if state is not None else (None, None, 0)
        out, rnn_state = self.rnn(self.select(x), rnn_state)
        if self.pool_kind == "last":
            feats = out[:, -1]
        elif self.pool_kind == "mean":
            acc = out.sum(1) + (0 if acc is None else acc)
            seen += out.shape[1]
            feats = acc / seen
        else:
            acc = out.amax(1) if acc is None else torch.maximum(acc, out.amax(1))
            feats = acc
        return self.forward_head(feats), (rnn_state, acc, seen)


class FingerRNN(nn.Module):
    """Five independent recurrent layers, one per finger, over [B, T, 5 x 15] -> [B, T, 5 x units].

    The weights are stored per finger (stacked on a leading axis of 5). `fused=True` runs GRU and
    SimpleRNN fingers as one layer through handrnn's grouped kernel (recurrent.py: one batched matmul per
    frame for all five fingers, padded frames skipped). Otherwise, and always for the LSTM (PyTorch's
    oneDNN LSTM measured faster than fusing it), five PyTorch layers run one after another.
    """

    def __init__(
        self, *, cell: str = "gru", units: int = 16, fused: bool = True, finger_input: int = FINGER_JOINTS * NUM_COORDS
    ):
        super().__init__()
        self.cell, self.units, self.fused, self.finger_input = cell, units, fused, finger_input
        g = GATES[cell] * units
        self.weight_ih = nn.Parameter(torch.empty(NUM_FINGERS, g, finger_input))
        self.weight_hh = nn.Parameter(torch.empty(NUM_FINGERS, g, units))
        self.bias_ih = nn.Parameter(torch.empty(NUM_FINGERS, g))
        self.bias_hh = nn.Parameter(torch.empty(NUM_FINGERS, g))
        bound = 1.0 / math.sqrt(units)  # nn.RNN's initialisation
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    @property
    def grouped(self) -> bool:
        """True when the five fingers run as one layer through the grouped kernel."""
        return self.fused and self.cell in GROUPED_CELLS

    def _grouped(self, x: torch.Tensor, lengths: torch.Tensor | None, h0=None):
        return grouped_rnn(self.cell, x, lengths, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, h0)

    def _torch_layer(self, f: int, x: torch.Tensor | PackedSequence, hx=None):
        """Finger f's layer as PyTorch runs it (the reference): an nn.RNN/GRU/LSTM reading finger f's
        weights -> (output, state)."""
        if not hasattr(self, "_template"):  # a plain attribute, not a submodule: it holds no state
            object.__setattr__(self, "_template", CELLS[self.cell](self.finger_input, self.units, batch_first=True))
        weights = {
            "weight_ih_l0": self.weight_ih[f],
            "weight_hh_l0": self.weight_hh[f],
            "bias_ih_l0": self.bias_ih[f],
            "bias_hh_l0": self.bias_hh[f],
        }
        return functional_call(self._template, weights, (x,) if hx is None else (x, hx))

    def _five_layers(self, x: torch.Tensor | PackedSequence, states=None):
        outs, new_states = [], []
        for f in range(NUM_FINGERS):
            cols = slice(f * self.finger_input, (f + 1) * self.finger_input)
            xf = x._replace(data=x.data[:, cols]) if isinstance(x, PackedSequence) else x[..., cols]
            out, state = self._torch_layer(f, xf, None if states is None else states[f])
            outs.append(out)
            new_states.append(state)
        if isinstance(x, PackedSequence):
            return x._replace(data=torch.cat([o.data for o in outs], dim=-1)), new_states
        return torch.cat(outs, dim=-1), new_states

    def step(self, x: torch.Tensor, state=None) -> tuple[torch.Tensor, object]:
        """Streaming: x [B, T', 5 x finger_input] continuing from `state` (None = start) -> ([B, T', 5 x units], state).
        PyTorch's layers, fused or not: for a frame or a few, the grouped kernel's set-up costs more than it
        saves (bench: 2.95 against 0.64 ms per frame for the HRNN 16/160)."""
        return self._five_layers(x, state)

    def forward(self, x: torch.Tensor | PackedSequence, lengths: torch.Tensor | None = None):
        """x [B, T, 5 x finger_input] (fingers in order) or packed -> [B, T, 5 x units] or packed.
        Grouped: x padded with lengths [B] (None: all frames); frames after a sequence's end give 0."""
        if self.grouped and kernel_runs_on(x):
            if isinstance(x, PackedSequence):
                raise ValueError("the grouped kernel reads padded input with lengths, not a PackedSequence")
            return self._grouped(x, lengths)[0]
        return self._five_layers(x)[0]


class HRNN(Classifier):
    """CW3's hierarchical RNN: a recurrent layer per finger (wrist + 4 joints), then one over the hand.

    `fused=True` (default) runs GRU/SimpleRNN layers through handrnn's grouped kernel (the five fingers
    as one layer; the hand layer too), skipping padded frames in every length mode; LSTM layers stay
    PyTorch's. `fused=False` runs PyTorch's layers only: five finger layers one after another, then the
    hand layer (the reference). Both read the same parameters, so a checkpoint runs either way.
    """

    def __init__(
        self,
        *,
        num_classes: int = 45,
        cell1: str = "gru",
        cell2: str = "gru",
        num_units1: int = 16,
        num_units2: int = 160,
        dropout: float = 0.2,
        fused: bool = True,
        pack_sequences: bool = False,
        joint_channels: int = NUM_COORDS,
        pool: str = "last",
        layer_norm: bool = False,
    ):
        super().__init__()
        self.pack_sequences, self.cell2 = pack_sequences, cell2
        cols = [c for f in range(NUM_FINGERS) for c in finger_feature_indices(f, joint_channels)]
        self.register_buffer("finger_columns", torch.tensor(cols), persistent=False)
        self.fingers = FingerRNN(cell=cell1, units=num_units1, fused=fused, finger_input=FINGER_JOINTS * joint_channels)
        self.hand = CELLS[cell2](NUM_FINGERS * num_units1, num_units2, batch_first=True)
        self.pool = Pool(pool, num_units2) if pool != "last" else None
        self.norm = nn.LayerNorm(num_units2) if layer_norm else nn.Identity()
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(num_units2, num_classes)

    @property
    def hand_grouped(self) -> bool:
        return self.fingers.fused and self.cell2 in GROUPED_CELLS

    def _hand_grouped(self, h: torch.Tensor, lengths: torch.Tensor | None, h0=None):
        """The hand layer through the grouped kernel, as a single group -> (out, last [1, B, H])."""
        hand = self.hand
        weights = [w.unsqueeze(0) for w in (hand.weight_ih_l0, hand.weight_hh_l0, hand.bias_ih_l0, hand.bias_hh_l0)]
        return grouped_rnn(self.cell2, h, lengths, *weights, h0)

    def forward_features(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x [B, T, 21 x k] (joint-major), lengths [B] -> [B, num_units2]."""
        x = x[..., self.finger_columns]  # [B, T, 5 x 5k]: the five fingers' blocks side by side
        if self.fingers.grouped and kernel_runs_on(x):  # padded frames are skipped, so the padding can go
            x = x[:, : int(lengths.max())]
            h = self.fingers(x, lengths)  # [B, T, 5 x units1]
        else:
            h = self.fingers(pack(x, lengths) if self.pack_sequences else x)
        if self.hand_grouped and kernel_runs_on(h):
            if isinstance(h, PackedSequence):
                h = pad_packed_sequence(h, batch_first=True)[0]
            out, last = self._hand_grouped(h, lengths)
            return last[0] if self.pool is None else self.pool(out, lengths)
        if self.pool is not None:
            out = self.hand(h)[0]
            out = pad_packed_sequence(out, batch_first=True)[0] if isinstance(out, PackedSequence) else out
            return self.pool(out, lengths)
        if self.pack_sequences and not isinstance(h, PackedSequence):
            h = pack(h, lengths)
        return final_state(self.hand, h, lengths)

    def stream(self, x: torch.Tensor, state=None) -> tuple[torch.Tensor, object]:
        """Online use: frames x [B, T', D] continuing from `state` -> (logits after the last frame, state)."""
        if self.pool is not None:
            raise ValueError("a pooled HRNN needs the whole sequence; it cannot stream")
        fingers, hand = state if state is not None else (None, None)
        h, fingers = self.fingers.step(x[..., self.finger_columns], fingers)
        out, hand = self.hand(h, hand)  # as the finger level: PyTorch's layer for a few frames at a time
        return self.forward_head(out[:, -1]), (fingers, hand)


class Ensemble(nn.Module):
    """Several models as one predictor: the mean of their probabilities. Trained together, each member on
    its own loss (`forward_members`), from its own initial weights and dropout."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    @property
    def num_classes(self) -> int:
        return self.members[0].num_classes

    def forward_members(self, x: torch.Tensor, lengths: torch.Tensor, mix: Mix = unmixed) -> torch.Tensor:
        """x [B, T, D], lengths [B] -> each member's logits [M, B, C]; `mix` as in Classifier.forward."""
        if self.can_fuse() and kernel_runs_on(x):
            outs = fused_outputs(list(self.members), x, lengths)
            return torch.stack([m.forward_head(mix(m.read_out(o, lengths))) for m, o in zip(self.members, outs)])
        return torch.stack([m(x, lengths, mix) for m in self.members])

    def can_fuse(self) -> bool:
        """Whether the members are flat GRU/SimpleRNN networks set to run on the grouped kernel (`grouped`):
        then they run together, each member and direction a group of one call per layer."""
        return all(isinstance(m, RNNClassifier) and m.grouped and m.can_group() for m in self.members)

    @staticmethod
    def combine(member_logits: torch.Tensor) -> torch.Tensor:
        """[M, B, C] -> [B, C] logits whose softmax is the members' mean probability."""
        return member_logits.log_softmax(-1).logsumexp(0) - math.log(member_logits.shape[0])

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.combine(self.forward_members(x, lengths))

    def stream(self, x: torch.Tensor, state=None) -> tuple[torch.Tensor, object]:
        states = state if state is not None else [None] * len(self.members)
        outs = [m.stream(x, s) for m, s in zip(self.members, states)]
        return self.combine(torch.stack([o[0] for o in outs])), [o[1] for o in outs]


def together(models: list[nn.Module]) -> Ensemble:
    """Models that read the same input as one ensemble of all their networks (an ensemble's members taken one by
    one): the mean of the networks' probabilities, which for models of equally many networks is the mean of the
    models' probabilities."""
    return Ensemble([n for m in models for n in (m.members if isinstance(m, Ensemble) else [m])])


def kernel_runs_on(x: torch.Tensor | PackedSequence) -> bool:
    """Whether the grouped kernel runs for input `x`: on the CPU. On a GPU PyTorch's layers (cuDNN) run the
    same maths faster (handrnn bench --device cuda, H200: the HRNN 16/160 0.33 against 2.79 s/epoch, the best
    preset's network 1.74 against 3.46), since the kernel's per-frame loop launches many small kernels."""
    return not x.is_cuda


def fused_outputs(members: list[RNNClassifier], x: torch.Tensor, lengths: torch.Tensor) -> list[torch.Tensor]:
    """Each member's top-layer frame outputs [B, T, F], layer by layer through one grouped-kernel call for
    all members and directions (each a group): the maths of running them one after another."""
    steps, inputs = x.shape[1], [m.select(x) for m in members]
    backward_x = reverse_padded(x, lengths) if members[0].bidirectional else None  # the first layer's, shared
    for layer in range(members[0].depth):
        if layer:
            inputs = [m.layer_dropout(h) for m, h in zip(members, inputs)]
        columns, weights = [], []
        for m, h in zip(members, inputs):
            directions = m.layer_weights(layer)
            if len(directions) == 2:
                columns += [h, m.select(backward_x) if layer == 0 else reverse_padded(h, lengths)]
            else:
                columns.append(h)
            weights += directions
        width = max(h.shape[-1] for h in columns)
        if any(h.shape[-1] < width for h in columns):  # members reading fewer input columns: zeros beside them
            columns = [nn.functional.pad(h, (0, width - h.shape[-1])) for h in columns]
            weights = [(nn.functional.pad(w[0], (0, width - w[0].shape[1])), *w[1:]) for w in weights]
        w_ih, w_hh, b_ih, b_hh = (torch.stack(w) for w in zip(*weights))
        out, _ = grouped_rnn(members[0].cell, torch.cat(columns, -1), lengths, w_ih, w_hh, b_ih, b_hh)
        groups = out[:, :steps].chunk(len(weights), -1)  # [B, T, H] each, 0 after a sequence's end
        if members[0].bidirectional:
            inputs = [torch.cat([f, reverse_padded(b, lengths)], -1) for f, b in zip(groups[::2], groups[1::2])]
        else:
            inputs = list(groups)
    return inputs


MODELS = {"rnn": RNNClassifier, "hrnn": HRNN}


def build_model(cfg: Config, num_classes: int) -> nn.Module:
    """The model that `cfg` describes, for inputs encoded with cfg's features: one network, or an
    Ensemble of cfg.members networks."""
    if cfg.members > 1:
        return Ensemble([build_one(cfg, num_classes, names) for names in cfg.member_feature_names()])
    return build_one(cfg, num_classes)


def build_one(cfg: Config, num_classes: int, reads: tuple[str, ...] | None = None) -> nn.Module:
    """One network; `reads`, a subset of the input's features, are the ones it reads (default: all)."""
    joints, names = cfg.joints or NUM_JOINTS, cfg.feature_names()
    columns = features.columns(reads, names, joints) if reads is not None and reads != names else None
    common = {
        "num_classes": num_classes,
        "dropout": cfg.dropout,
        "pack_sequences": cfg.lengths == "pack",
        "pool": cfg.pool,
        "layer_norm": cfg.layer_norm,
    }
    if cfg.model == "hrnn":
        return MODELS["hrnn"](
            cell1=cfg.cell,
            cell2=cfg.cell2,
            num_units1=cfg.num_units1,
            num_units2=cfg.units2(),
            fused=cfg.fused,
            joint_channels=features.joint_channels(names),
            **common,
        )
    model = MODELS["rnn"](
        input_size=features.size(names, joints),
        input_columns=columns,
        cell=cfg.cell,
        num_units=cfg.num_units,
        depth=cfg.depth,
        bidirectional=cfg.bidirectional,
        **common,
    )
    model.grouped = cfg.grouped_kernel
    return model
