"""The hand as FPHA records it: joint order, finger chains and bones (the only place these facts live)."""

from __future__ import annotations

# Wrist, the five MCPs, then PIP, DIP, TIP of thumb, index, middle, ring, pinky (FPHA's official order).
JOINTS: tuple[str, ...] = ("Wrist", "TMCP", "IMCP", "MMCP", "RMCP", "PMCP") + tuple(
    f"{finger}{joint}" for finger in "TIMRP" for joint in ("PIP", "DIP", "TIP")
)
NUM_JOINTS = len(JOINTS)  # 21
NUM_COORDS = 3  # x, y, z in millimetres
NUM_FEATURES = NUM_JOINTS * NUM_COORDS  # 63 values per frame
FINGERS: tuple[str, ...] = ("thumb", "index", "middle", "ring", "pinky")
NUM_FINGERS = len(FINGERS)
FINGER_JOINTS = 5  # wrist, MCP, PIP, DIP, TIP
FINGER_INPUT = FINGER_JOINTS * NUM_COORDS  # 15: a finger's chain in xyz
WRIST = 0


def finger_chain(f: int) -> tuple[int, ...]:
    """Joints of finger ``f`` (0 = thumb .. 4 = pinky), wrist first: wrist, MCP, PIP, DIP, TIP."""
    if not 0 <= f < len(FINGERS):
        raise ValueError(f"finger index must be in 0..4, got {f}")
    return (WRIST, 1 + f, 6 + 3 * f, 7 + 3 * f, 8 + 3 * f)


FINGER_CHAINS: tuple[tuple[int, ...], ...] = tuple(finger_chain(f) for f in range(len(FINGERS)))
MCP_JOINTS: tuple[int, ...] = tuple(chain[1] for chain in FINGER_CHAINS)
# Bones are the consecutive joint pairs of each finger chain (wrist-MCP, MCP-PIP, PIP-DIP, DIP-TIP).
BONES: tuple[tuple[int, int], ...] = tuple(
    (chain[i], chain[i + 1]) for chain in FINGER_CHAINS for i in range(len(chain) - 1)
)


def finger_feature_indices(f: int, channels: int = NUM_COORDS) -> list[int]:
    """Columns of a joint-major [T, 21 x channels] array (xyz: [T, 63]) that hold finger ``f``'s chain:
    [T, 5 x channels] after indexing."""
    return [channels * j + c for j in finger_chain(f) for c in range(channels)]
