"""Feature functions against values worked out by hand on a small synthetic hand."""

import numpy as np
import pytest

from handrnn import features
from handrnn.config import FEATURE_NAMES, JOINT_FEATURES, make_config
from handrnn.errors import HandRNNError
from handrnn.skeleton import BONES, FINGER_CHAINS, MCP_JOINTS, NUM_JOINTS


def straight_hand() -> np.ndarray:
    """One frame [21, 3]: wrist at the origin, every finger a straight line along its own direction in the
    x-y plane, MCP at distance 2 from the wrist, then PIP, DIP, TIP one unit apart."""
    joints = np.zeros((NUM_JOINTS, 3))
    for f, chain in enumerate(FINGER_CHAINS):
        d = np.array([np.cos(0.3 * f), np.sin(0.3 * f), 0.0])
        for k, j in enumerate(chain[1:]):
            joints[j] = d * (2 + k)
    return joints


def moving(frames: int = 6, step=(1.0, 0.0, 0.0)) -> np.ndarray:
    """[T, 21, 3]: the straight hand translated by `step` per frame."""
    return np.stack([straight_hand() + t * np.asarray(step) for t in range(frames)])


def test_palm_size_is_the_mean_wrist_to_mcp_distance():
    x = moving()
    assert np.allclose(features.palm_size(x), 2.0)
    assert features.sequence_palm(x * 3) == pytest.approx(6.0)


def test_pose_is_relative_to_the_wrist_in_palm_sizes_and_invariant_to_translation_and_scale():
    x = moving()
    p = features.pose(x)
    assert np.allclose(p[:, 0], 0)  # the wrist
    thumb_mcp = MCP_JOINTS[0]
    assert np.allclose(p[:, thumb_mcp], [1.0, 0.0, 0.0])  # (2, 0, 0) / palm 2
    assert np.allclose(features.pose(x * 5 + 40), p)


def test_velocities_are_frame_differences_in_palm_sizes():
    x = moving(step=(1.0, 0.0, 0.0))
    v = features.velocity(x)
    assert np.allclose(v[0], 0)
    assert np.allclose(v[1:], [0.5, 0.0, 0.0])  # 1 mm per frame / palm 2
    v4 = features.long_velocity(x)
    assert np.allclose(v4[:4], 0) and np.allclose(v4[4:], [2.0, 0.0, 0.0])


def test_bones_directions_distances_angles():
    x = moving(frames=2)
    b = features.bones(x).reshape(2, len(BONES), 3)
    assert b.shape == (2, 20, 3)
    lengths = np.linalg.norm(b, axis=-1)
    assert np.allclose(lengths[0], [1.0, 0.5, 0.5, 0.5] * 5)  # wrist-MCP 2, then 1 each, / palm 2
    assert np.allclose(np.linalg.norm(features.bone_directions(x).reshape(2, 20, 3), axis=-1), 1)
    d = features.distances(x)
    assert d.shape == (2, 210)
    assert d[0, 0] == pytest.approx(1.0)  # wrist (0) to thumb MCP (1): 2 / 2
    assert np.allclose(features.angles(x), 1.0)  # straight fingers


def test_a_right_angle_at_the_index_pip():
    x = straight_hand()
    chain = FINGER_CHAINS[1]  # wrist, IMCP, IPIP, IDIP, ITIP
    pip = x[chain[2]]
    up = np.array([0, 0, 1.0])
    x[chain[3]], x[chain[4]] = pip + up, pip + 2 * up
    a = features.angles(x[None])[0].reshape(5, 3)
    assert a[1].tolist() == pytest.approx([1.0, 0.0, 1.0])  # MCP straight, PIP bent 90 degrees, DIP straight
    assert np.allclose(np.delete(a, 1, axis=0), 1)


def test_rotation_leaves_distances_and_angles_alone():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    x = moving() + rng.normal(0, 0.1, (6, 21, 3))
    for fn in (features.distances, features.angles):
        assert np.allclose(fn(x @ q.T), fn(x))


def test_encode_layout_per_joint_block_joint_major_then_globals():
    x = moving(frames=3).reshape(3, -1)
    names = make_config(features="dists,vel,pose").feature_names()
    assert names == ("pose", "vel", "dists")
    out = features.encode(x, names)
    assert out.shape == (3, 21 * 6 + 210) == (3, features.size(names))
    assert features.joint_channels(names) == 6
    joints = x.reshape(3, 21, 3)
    j = 7
    assert np.allclose(out[:, 6 * j : 6 * j + 3], features.pose(joints)[:, j])
    assert np.allclose(out[:, 6 * j + 3 : 6 * j + 6], features.velocity(joints)[:, j])
    assert np.allclose(out[:, 126:], features.distances(joints))
    assert np.array_equal(features.encode(x, ("xyz",)), x.astype(np.float32))


def test_feature_names_agree_with_the_config_lists():
    assert set(FEATURE_NAMES) == set(features.PER_JOINT) | set(features.GLOBAL)
    assert set(JOINT_FEATURES) == set(features.PER_JOINT)
    with pytest.raises(HandRNNError, match="features = 'pose,speed'"):
        make_config(features="pose,speed")


def test_the_palm_frame_of_the_flat_synthetic_hand():
    x = moving(frames=2)
    r = features.palm_frame(x)
    assert np.allclose(r @ r.transpose(0, 2, 1), np.eye(3))  # orthonormal rows
    assert np.allclose(r[:, 0], [np.cos(0.6), np.sin(0.6), 0])  # up: towards the middle MCP (finger 2)
    assert np.allclose(r[:, 2], [0, 0, 1]) or np.allclose(r[:, 2], [0, 0, -1])  # normal: out of the flat palm
    assert np.allclose(np.linalg.det(r), 1)  # a rotation, not a reflection
    loc = features.local(x)
    middle_mcp = MCP_JOINTS[2]
    assert np.allclose(loc[:, 0], 0) and np.allclose(loc[:, middle_mcp], [1.0, 0.0, 0.0])  # (2 along up) / palm 2
    assert np.allclose(loc[..., 2], 0)  # a flat hand lies in its own palm plane
    assert np.allclose(features.orientation(x), r.reshape(2, 9))


def test_local_is_unchanged_when_the_hand_turns_and_orient_turns_with_it():
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.linalg.det(q)  # a proper rotation
    x = moving() + rng.normal(0, 0.1, (6, 21, 3))
    turned = x @ q.T + 7.0
    assert np.allclose(features.local(turned), features.local(x))
    assert not np.allclose(features.pose(turned), features.pose(x))
    r, r_turned = features.palm_frame(x), features.palm_frame(turned)
    assert np.allclose(r_turned, r @ q.T)  # each axis turned by q
    joints = features.pose(x)
    assert np.allclose(np.einsum("tki,tij->tkj", features.local(x), r), joints)  # local back to pose


def test_columns_find_each_feature_list_inside_the_encoding_of_a_union():
    """What an ensemble member of --member-features reads: its own encoding, picked from the union's."""
    rng = np.random.default_rng(1)
    x = (moving(frames=5) + rng.normal(0, 0.1, (5, 21, 3))).reshape(5, -1)
    union = make_config(features="xyz,pose,vel,local,bones,dists,angles,orient").feature_names()
    whole = features.encode(x, union)
    for listed in ("pose,vel", "local,vel,orient", "xyz", "dists", "orient,angles,vel", union and ",".join(union)):
        names = make_config(features=listed).feature_names()
        cols = features.columns(names, union)
        assert len(cols) == len(set(cols)) == features.size(names)
        np.testing.assert_array_equal(whole[:, cols], features.encode(x, names))
    assert features.columns(union, union) == list(range(features.size(union)))
    with pytest.raises(ValueError, match="dirs"):
        features.columns(("pose", "dirs"), union)


def test_member_features_give_each_member_its_list_and_the_input_their_union():
    cfg = make_config(members=3, member_features=" local,vel,orient ; pose,vel ", features="xyz")
    assert cfg.feature_names() == ("pose", "vel", "local", "orient")
    assert cfg.member_feature_names() == [("vel", "local", "orient"), ("pose", "vel"), ("vel", "local", "orient")]
    assert make_config(members=2, features="pose").member_feature_names() == [("pose",), ("pose",)]
    with pytest.raises(HandRNNError, match="got 'speed'"):
        make_config(members=2, member_features="pose;speed")
    with pytest.raises(HandRNNError, match="got ''"):
        make_config(members=2, member_features="pose;;vel")
    one = make_config(member_features="local,vel;pose")  # one member (the preset's --members 1): the first list
    assert one.member_feature_names() == [("vel", "local")] and one.feature_names() == ("vel", "local")
    with pytest.raises(HandRNNError, match="model rnn only"):
        make_config(model="hrnn", members=2, member_features="pose;vel")
