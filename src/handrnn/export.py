"""`handrnn export`: a run's model as one self-contained graph, raw joints in, probabilities out.

The exported graph takes one sequence of raw coordinates [1, T, 63] (millimetres, FPHA's joint order, any T)
and returns the action probabilities [1, C]: the features, the fitted normalisation, the network (an
ensemble's members averaged) and the softmax are all inside. The HRNN exports its PyTorch reference path
(the grouped kernel is handrnn's own loop). ONNX files carry the action names in their metadata.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .data import Encoder
from .errors import HandRNNError
from .features import LONG_STRIDE
from .models import CELLS, HRNN, Ensemble, FingerRNN, RNNClassifier
from .runs import refuse_link
from .skeleton import BONES, FINGER_CHAINS, MCP_JOINTS, NUM_COORDS, NUM_FINGERS, NUM_JOINTS, PALM_ACROSS, PALM_UP, WRIST

FORMATS = ("onnx", "torchscript")
SUFFIX = {"onnx": ".onnx", "torchscript": ".pt"}


def unit(v: torch.Tensor) -> torch.Tensor:
    """features.unit in torch: v over its length along the last axis (at least 1e-9)."""
    return v / torch.linalg.vector_norm(v, dim=-1, keepdim=True).clamp_min(1e-9)


class TorchFeatures(nn.Module):
    """The encoder in torch: raw frames [B, T, 63] -> model input [B, T', D], every `step`-th frame, then
    features.encode and the normaliser (every sequence its own palm size, as encode computes it per sequence)."""

    def __init__(self, encoder: Encoder):
        super().__init__()
        self.names, self.step = tuple(encoder.names), encoder.step
        norm = encoder.normaliser
        self.kind = norm.kind
        if norm.kind == "zscore":
            self.register_buffer("mean", torch.tensor(norm.mean, dtype=torch.float64))
            self.register_buffer("std", torch.tensor(norm.std, dtype=torch.float64))
        self.palm = float(norm.palm or 1.0)  # hand normalisation: the training frames' mean palm size
        parent, child = (list(side) for side in zip(*BONES))
        i, j = np.triu_indices(NUM_JOINTS, k=1)
        self.index = {"parent": parent, "child": child, "i": i.tolist(), "j": j.tolist()}

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """In float64, as features.encode computes: a near-constant column (the middle MCP's sideways offset in
        the palm frame is 0 up to rounding) is divided by a tiny spread, which would magnify float32 rounding."""
        return self.encode(frames[:, :: self.step].to(torch.float64)).to(torch.float32)

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        b, t = frames.shape[0], frames.shape[1]
        if self.names == ("xyz",) and self.kind != "hand":  # the coordinates as given, of any joint layout
            return (frames - self.mean) / self.std if self.kind == "zscore" else frames
        joints = frames.reshape(b, t, NUM_JOINTS, NUM_COORDS)
        palm = self.sequence_palm(joints)  # [B, 1, 1, 1]
        per_joint, glob = [], []
        for name in self.names:
            if name == "xyz":
                per_joint.append(joints)
            elif name == "pose":
                per_joint.append((joints - joints[:, :, WRIST : WRIST + 1]) / palm)
            elif name in ("vel", "vel4"):
                per_joint.append(self.velocity(joints / palm, 1 if name == "vel" else LONG_STRIDE))
            elif name == "local":  # pose in the palm's axes: [B, T, 21, 3]
                pose = (joints - joints[:, :, WRIST : WRIST + 1]) / palm
                per_joint.append(torch.einsum("btij,btkj->btki", self.palm_frame(joints), pose))
            elif name == "orient":
                glob.append(self.palm_frame(joints).reshape(b, t, 9))
            else:
                glob.append(self.global_feature(name, joints, palm))
        blocks = [torch.cat(per_joint, -1).reshape(b, t, -1)] if per_joint else []
        x = torch.cat(blocks + glob, -1)
        if self.kind == "zscore":
            return (x - self.mean) / self.std
        if self.kind == "hand":
            return ((joints - joints[:, :, WRIST : WRIST + 1]) / self.palm).reshape(b, t, -1)
        return x

    @staticmethod
    def sequence_palm(joints: torch.Tensor) -> torch.Tensor:
        wrist = joints[:, :, WRIST : WRIST + 1]
        size = torch.linalg.vector_norm(joints[:, :, list(MCP_JOINTS)] - wrist, dim=-1).mean(-1)  # [B, T]
        return size.mean(1).clamp_min(1e-6)[:, None, None, None]

    @staticmethod
    def palm_frame(joints: torch.Tensor) -> torch.Tensor:
        """features.palm_frame: each frame's palm axes as rows, [B, T, 3, 3]."""
        up = unit(joints[:, :, PALM_UP[1]] - joints[:, :, PALM_UP[0]])
        across = joints[:, :, PALM_ACROSS[1]] - joints[:, :, PALM_ACROSS[0]]
        across = unit(across - (across * up).sum(-1, keepdim=True) * up)
        return torch.stack([up, across, torch.linalg.cross(up, across)], dim=2)

    @staticmethod
    def velocity(scaled: torch.Tensor, stride: int) -> torch.Tensor:
        """x[t] - x[t - stride], 0 for the first `stride` frames (also when the sequence is shorter)."""
        t = scaled.shape[1]
        shifted = torch.cat([scaled[:, :1].expand(-1, stride, -1, -1), scaled], 1)[:, :t]
        diff = scaled - shifted
        keep = (torch.arange(t, device=scaled.device) >= stride).to(scaled.dtype)[None, :, None, None]
        return diff * keep

    def global_feature(self, name: str, joints: torch.Tensor, palm: torch.Tensor) -> torch.Tensor:
        b, t = joints.shape[0], joints.shape[1]
        if name in ("bones", "dirs"):
            v = joints[:, :, self.index["child"]] - joints[:, :, self.index["parent"]]
            v = v / palm if name == "bones" else unit(v)
            return v.reshape(b, t, -1)
        if name == "dists":
            d = joints[:, :, self.index["i"]] - joints[:, :, self.index["j"]]
            return torch.linalg.vector_norm(d, dim=-1) / palm[..., 0]
        out = []  # angles
        for chain in FINGER_CHAINS:
            v = joints[:, :, list(chain[1:])] - joints[:, :, list(chain[:-1])]
            v = unit(v)
            out.append((v[:, :, :-1] * v[:, :, 1:]).sum(-1))
        return torch.cat(out, -1)


class Exportable(nn.Module):
    """Raw frames [1, T, 63] -> probabilities [1, C]: features, normalisation, network, softmax."""

    def __init__(self, model: nn.Module, encoder: Encoder):
        super().__init__()
        self.features = TorchFeatures(encoder)
        self.model = reference_path(model)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = self.features(frames)
        lengths = torch.full((x.shape[0],), x.shape[1], dtype=torch.long, device=x.device)
        if isinstance(self.model, Ensemble):
            return self.model.forward_members(x, lengths).softmax(-1).mean(0)
        return self.model(x, lengths).softmax(-1)


class FingerLayers(nn.Module):
    """A FingerRNN's five layers as PyTorch modules holding copies of its weights: the same outputs, in a form
    that traces (the grouped kernel is a Python loop, and the reference path calls functional_call)."""

    grouped = False  # what HRNN asks its finger level
    fused = False

    def __init__(self, fingers: FingerRNN):
        super().__init__()
        self.finger_input = fingers.finger_input
        self.layers = nn.ModuleList()
        for f in range(NUM_FINGERS):
            layer = CELLS[fingers.cell](fingers.finger_input, fingers.units, batch_first=True)
            with torch.no_grad():
                for name, weights in (("weight_ih", fingers.weight_ih), ("weight_hh", fingers.weight_hh)):
                    getattr(layer, f"{name}_l0").copy_(weights[f])
                layer.bias_ih_l0.copy_(fingers.bias_ih[f])
                layer.bias_hh_l0.copy_(fingers.bias_hh[f])
            self.layers.append(layer)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        n = self.finger_input
        return torch.cat([layer(x[..., f * n : (f + 1) * n])[0] for f, layer in enumerate(self.layers)], -1)


def reference_path(model: nn.Module) -> nn.Module:
    """The model with every HRNN's finger level and ensemble on PyTorch's own layers (the grouped kernel does
    not trace)."""
    for m in model.modules():
        if isinstance(m, HRNN) and isinstance(m.fingers, FingerRNN):
            m.fingers = FingerLayers(m.fingers)
        if isinstance(m, RNNClassifier):
            m.grouped = False  # an ensemble of them then runs its members one after another
    return model.eval()


def export(run_dir: Path, fmt: str, out: Path | None = None, checkpoint: str = "best") -> Path:
    """Write the run's model as ONNX or TorchScript; returns the file's path."""
    from .evaluation import checkpoint_joints, load_model

    if fmt not in FORMATS:
        raise HandRNNError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    model, encoder, state = load_model(Path(run_dir), checkpoint)
    wrapped = Exportable(model, encoder).eval()
    out = Path(out) if out else Path(run_dir) / f"model{SUFFIX[fmt]}"
    out.parent.mkdir(parents=True, exist_ok=True)
    refuse_link(out)
    example = torch.randn(1, 40, checkpoint_joints(state) * NUM_COORDS) * 30 + 300
    meta = {"actions": json.dumps(list(state["actions"])), "config": json.dumps(state["config"])}
    with torch.no_grad():
        if fmt == "torchscript":
            traced = torch.jit.trace(wrapped, example, check_trace=False)
            torch.jit.save(traced, str(out), _extra_files={k + ".json": v for k, v in meta.items()})
        else:
            write_onnx(wrapped, example, out, meta)
    return out


def write_onnx(wrapped: nn.Module, example: torch.Tensor, out: Path, meta: dict) -> None:
    import warnings

    try:
        import onnx
    except ImportError:
        raise HandRNNError("ONNX export needs the onnx package: pip install -e '.[export]'") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapped,
            (example,),
            str(out),
            input_names=["joints"],
            output_names=["probabilities"],
            dynamic_axes={"joints": {1: "frames"}},
            opset_version=17,
            dynamo=False,
        )
    graph = onnx.load(str(out))
    for key, value in meta.items():
        graph.metadata_props.add(key=key, value=value)
    onnx.save(graph, str(out))


def onnx_session(path: Path):
    """An onnxruntime session of an exported file, and its action names."""
    try:
        import onnxruntime
    except ImportError:
        raise HandRNNError("running ONNX files needs onnxruntime: pip install -e '.[export]'") from None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    actions = json.loads(session.get_modelmeta().custom_metadata_map["actions"])
    return session, actions
