import numpy as np
import pytest

from handrnn import skeleton as sk
from handrnn.datasets import read_fpha


def test_finger_chains_follow_fpha_order():
    names = [[sk.JOINTS[j] for j in chain] for chain in sk.FINGER_CHAINS]
    assert names[0] == ["Wrist", "TMCP", "TPIP", "TDIP", "TTIP"]
    assert names[1] == ["Wrist", "IMCP", "IPIP", "IDIP", "ITIP"]
    assert names[4] == ["Wrist", "PMCP", "PPIP", "PDIP", "PTIP"]
    assert len(sk.BONES) == 20 and sk.NUM_FEATURES == 63
    assert sorted({j for c in sk.FINGER_CHAINS for j in c}) == list(range(21))


def test_finger_feature_indices_pick_xyz_of_each_joint():
    assert sk.finger_feature_indices(2) == [0, 1, 2, 9, 10, 11, 36, 37, 38, 39, 40, 41, 42, 43, 44]
    with pytest.raises(ValueError):
        sk.finger_chain(5)


@pytest.mark.fpha
def test_bone_lengths_are_constant_on_real_data(fpha):
    """The joint order is right only if bones keep their length through a sequence and non-bones do not."""
    data = read_fpha(fpha)

    def spread(joints, a, b):
        length = np.linalg.norm(joints[:, a] - joints[:, b], axis=1)
        return length.std() / length.mean()

    bones, tips = [], []
    for seq in data.sequences[::25]:
        joints = seq.reshape(len(seq), 21, 3)
        bones += [spread(joints, a, b) for a, b in sk.BONES]
        tips.append(spread(joints, sk.JOINTS.index("TTIP"), sk.JOINTS.index("ITIP")))  # not a bone: varies
    # wrist-MCP and DIP-TIP keep their length to float precision; the middle bones within a few percent
    assert max(bones[i] for i in range(len(bones)) if i % 4 in (0, 3)) < 1e-4
    assert np.median(bones) < 0.02 and np.median(tips) > 0.1


def test_joint_names_are_fphas_official_order():
    official = (
        "Wrist TMCP IMCP MMCP RMCP PMCP TPIP TDIP TTIP IPIP IDIP ITIP MPIP MDIP MTIP RPIP RDIP RTIP PPIP PDIP PTIP"
    )
    assert sk.JOINTS == tuple(official.split())
