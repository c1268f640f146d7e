"""Input features computed from joint coordinates: invariant poses, motion, bones, distances, angles.

Every function maps one sequence of joints x [T, 21, 3] (millimetres) to features. Per-joint features
are [T, 21, 3] and keep the joint axis, so the HRNN can still give each finger its own joints; global
features are [T, D]. `encode` puts the chosen ones side by side: per-joint blocks first, joint-major
([T, 21 x k], joint j in columns j*k:(j+1)*k), then global blocks.

Lengths are scaled by the sequence's palm size (mean wrist-to-MCP distance), so a large and a small
hand, or a hand in other units, give the same features. `local` and `orient` split a frame into the
hand's shape in its own palm frame (unchanged when the whole hand turns) and that frame's orientation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .skeleton import BONES, FINGER_CHAINS, MCP_JOINTS, NUM_COORDS, NUM_JOINTS, PALM_ACROSS, PALM_UP, WRIST

LONG_STRIDE = 4  # frames spanned by the long-stride velocity "vel4"


def palm_size(joints: np.ndarray) -> np.ndarray:
    """Mean wrist-to-MCP distance of each frame: [T, 21, 3] -> [T]."""
    return np.linalg.norm(joints[:, list(MCP_JOINTS)] - joints[:, WRIST : WRIST + 1], axis=-1).mean(-1)


def sequence_palm(joints: np.ndarray) -> float:
    """One palm size for the whole sequence (the palm is rigid; averaging frames removes annotation noise)."""
    return max(float(palm_size(joints).mean()), 1e-6)


def xyz(joints: np.ndarray, palm: float | None = None) -> np.ndarray:
    """The coordinates as given (CW3's input): [T, 21, 3]."""
    return joints


def pose(joints: np.ndarray, palm: float | None = None) -> np.ndarray:
    """Joints relative to the same frame's wrist, in palm sizes: [T, 21, 3] (translation and scale invariant)."""
    return (joints - joints[:, WRIST : WRIST + 1]) / (palm or sequence_palm(joints))


def velocity(joints: np.ndarray, palm: float | None = None, stride: int = 1) -> np.ndarray:
    """x[t] - x[t - stride] in palm sizes, 0 where t < stride: [T, 21, 3] (translation invariant)."""
    scaled = joints / (palm or sequence_palm(joints))
    out = np.zeros_like(scaled)
    out[stride:] = scaled[stride:] - scaled[:-stride]
    return out


def long_velocity(joints: np.ndarray, palm: float | None = None) -> np.ndarray:
    return velocity(joints, palm, LONG_STRIDE)


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def palm_frame(joints: np.ndarray) -> np.ndarray:
    """Each frame's palm axes as the rows of a rotation [T, 3, 3]: up (wrist to the middle MCP), across
    (index MCP to pinky MCP, made square to up), and their cross product, the palm's normal."""
    up = unit(joints[:, PALM_UP[1]] - joints[:, PALM_UP[0]])
    across = joints[:, PALM_ACROSS[1]] - joints[:, PALM_ACROSS[0]]
    across = unit(across - (across * up).sum(-1, keepdims=True) * up)
    return np.stack([up, across, np.cross(up, across)], axis=1)


def local(joints: np.ndarray, palm: float | None = None) -> np.ndarray:
    """Joints relative to the wrist in the same frame's palm axes, in palm sizes: [T, 21, 3] (the hand's
    shape alone: unchanged by translation, scale and any rotation of the hand)."""
    return np.einsum("tij,tkj->tki", palm_frame(joints), pose(joints, palm))


def orientation(joints: np.ndarray, palm: float | None = None) -> np.ndarray:
    """The palm axes of each frame (palm_frame's rows), flattened: [T, 9] (where the hand faces)."""
    return palm_frame(joints).reshape(len(joints), 9)


def bones(joints: np.ndarray, palm: float | None = None) -> np.ndarray:
    """Bone vectors (child minus parent, skeleton.BONES order) in palm sizes: [T, 20 x 3]."""
    parent, child = (list(side) for side in zip(*BONES))
    return ((joints[:, child] - joints[:, parent]) / (palm or sequence_palm(joints))).reshape(len(joints), -1)


def bone_directions(joints: np.ndarray, palm: float | None = None) -> np.ndarray:
    """Unit bone vectors: [T, 20 x 3] (scale invariant)."""
    parent, child = (list(side) for side in zip(*BONES))
    return unit(joints[:, child] - joints[:, parent]).reshape(len(joints), -1)


def distances(joints: np.ndarray, palm: float | None = None) -> np.ndarray:
    """Distances between every pair of joints in palm sizes, upper triangle row by row: [T, 210]."""
    i, j = np.triu_indices(NUM_JOINTS, k=1)
    return np.linalg.norm(joints[:, i] - joints[:, j], axis=-1) / (palm or sequence_palm(joints))


def angles(joints: np.ndarray, palm: float | None = None) -> np.ndarray:
    """Cosine of the angle between consecutive bones of each finger (at MCP, PIP, DIP): [T, 5 x 3]."""
    out = []
    for chain in FINGER_CHAINS:
        v = joints[:, list(chain[1:])] - joints[:, list(chain[:-1])]  # [T, 4, 3]: the finger's bones in order
        v = unit(v)
        out.append((v[:, :-1] * v[:, 1:]).sum(-1))
    return np.concatenate(out, axis=1)


# Each takes (joints [T, 21, 3], palm) and computes the palm size itself when it is not given.
PER_JOINT: dict[str, Callable[..., np.ndarray]] = {
    "xyz": xyz,
    "pose": pose,
    "vel": velocity,
    "vel4": long_velocity,
    "local": local,
}
GLOBAL: dict[str, Callable[..., np.ndarray]] = {
    "bones": bones,
    "dirs": bone_directions,
    "dists": distances,
    "angles": angles,
    "orient": orientation,
}


def joint_channels(names: Sequence[str]) -> int:
    """Values per joint in the per-joint block: 3 per per-joint feature."""
    return NUM_COORDS * sum(n in PER_JOINT for n in names)


def encode(frames: np.ndarray, names: Sequence[str], palm: float | None = None) -> np.ndarray:
    """[T, 63] coordinates -> [T, D] float32 features: per-joint block [T, 21 x k] (joint-major), then globals.
    `palm` fixes the palm size (a stream cannot average it over frames still to come)."""
    if tuple(names) == ("xyz",):  # the coordinates as given, of any joint layout
        return np.asarray(frames, dtype=np.float32).reshape(len(frames), -1)
    joints = frames.reshape(len(frames), NUM_JOINTS, NUM_COORDS).astype(np.float64)
    palm = palm or sequence_palm(joints)  # once per sequence, for every feature
    per_joint = [PER_JOINT[n](joints, palm) for n in names if n in PER_JOINT]
    blocks = [np.concatenate(per_joint, axis=-1).reshape(len(frames), -1)] if per_joint else []
    blocks += [GLOBAL[n](joints, palm) for n in names if n in GLOBAL]
    return np.concatenate(blocks, axis=1).astype(np.float32)


def size(names: Sequence[str], joints: int = NUM_JOINTS) -> int:
    """D, the width of `encode`'s output for frames of `joints` joints."""
    probe = np.random.default_rng(0).normal(size=(2, joints * NUM_COORDS)) + 1.0
    return encode(probe, names).shape[1]


def columns(names: Sequence[str], within: Sequence[str], joints: int = NUM_JOINTS) -> list[int]:
    """Where encode(frames, names) sits in encode(frames, within): indices c with encode(f, within)[:, c] equal
    to encode(f, names). Both in canonical order (per-joint names first), `names` a subset of `within`."""
    missing = [n for n in names if n not in within]
    if missing:
        raise ValueError(f"features {missing} are not among {list(within)}")
    outer = [n for n in within if n in PER_JOINT]
    inner = [n for n in names if n in PER_JOINT]
    k = NUM_COORDS * len(outer)  # the per-joint block's values per joint
    cols = [j * k + NUM_COORDS * outer.index(n) + c for j in range(joints) for n in inner for c in range(NUM_COORDS)]
    start = joints * k
    for n in (n for n in within if n in GLOBAL):
        width = size([n], joints)
        if n in names:
            cols += range(start, start + width)
        start += width
    return cols
