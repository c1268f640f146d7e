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
# The palm's axes (features.palm_frame): up from the wrist to the middle MCP, across from index to pinky MCP.
PALM_UP: tuple[int, int] = (WRIST, MCP_JOINTS[2])
PALM_ACROSS: tuple[int, int] = (MCP_JOINTS[1], MCP_JOINTS[4])
# Bones are the consecutive joint pairs of each finger chain (wrist-MCP, MCP-PIP, PIP-DIP, DIP-TIP).
BONES: tuple[tuple[int, int], ...] = tuple(
    (chain[i], chain[i + 1]) for chain in FINGER_CHAINS for i in range(len(chain) - 1)
)


def finger_feature_indices(f: int, channels: int = NUM_COORDS) -> list[int]:
    """Columns of a joint-major [T, 21 x channels] array (xyz: [T, 63]) that hold finger ``f``'s chain:
    [T, 5 x channels] after indexing."""
    return [channels * j + c for j in finger_chain(f) for c in range(channels)]


# Mean bone lengths of FPHA's hands in millimetres, BONES order (thumb's four bones first, each finger from
# the wrist out), averaged over the 1,175 annotated sequences. Inputs are checked against their proportions.
REFERENCE_BONES_MM: tuple[float, ...] = (
    (14.1, 55.9, 37.7, 28.5)
    + (73.7, 45.8, 26.8, 20.6)
    + (69.2, 48.8, 29.5, 21.7)
    + (66.3, 44.3, 27.5, 21.8)
    + (64.8, 37.4, 23.2, 19.2)
)
PALM_MM = (20.0, 200.0)  # a plausible palm size (mean wrist-to-MCP distance; FPHA's: 55-65 mm)
BONE_PROPORTION_LIMIT = 0.22  # mean |log| difference of bone-length proportions: FPHA <= 0.18, reordered >= 0.28
