"""Voigt notation and rotations of second- and fourth-order tensors.

Voigt order (xx, yy, zz, yz, xz, xy), tensor index 0 = x, 1 = y, 2 = z:

    stress  s_voigt = [s_xx, s_yy, s_zz, s_yz, s_xz, s_xy]                 [Pa]
    strain  e_voigt = [e_xx, e_yy, e_zz, 2 e_yz, 2 e_xz, 2 e_xy]           [-]
            (engineering shear strains, so that s_voigt = C_voigt @ e_voigt)
    stiffness C_voigt[I, J] = C_ijkl with (i, j) = VOIGT_PAIRS[I], (k, l) = VOIGT_PAIRS[J]

Rotations: R (3, 3) is a proper orthogonal matrix that maps components in the crystal
(or any "old") frame to the lab ("new") frame, v_lab = R @ v_crystal, so

    t'_ij     = R_ia R_jb t_ab                       (second order)
    C'_ijkl   = R_ia R_jb R_kc R_ld C_abcd           (fourth order)

(Nye, Physical Properties of Crystals, 1957, ch. I and VIII). A crystal whose c axis
points along the lab unit vector n has R[:, 2] = n.
"""

from __future__ import annotations

import numpy as np

VOIGT_PAIRS = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))


def _voigt_index() -> np.ndarray:
    """(3, 3) table of the Voigt index I of the tensor index pair (i, j)."""
    index = np.empty((3, 3), dtype=int)
    for voigt, (i, j) in enumerate(VOIGT_PAIRS):
        index[i, j] = index[j, i] = voigt
    return index


VOIGT_INDEX = _voigt_index()


def strain_to_voigt(strain: np.ndarray) -> np.ndarray:
    """(3, 3, ...) symmetric strain tensor -> (6, ...) Voigt vector with engineering shear
    strains [e_xx, e_yy, e_zz, 2 e_yz, 2 e_xz, 2 e_xy]. The symmetric part is used."""
    t = np.asarray(strain, dtype=float)
    return np.stack(
        [t[0, 0], t[1, 1], t[2, 2], t[1, 2] + t[2, 1], t[0, 2] + t[2, 0], t[0, 1] + t[1, 0]]
    )


def voigt_to_strain(voigt: np.ndarray) -> np.ndarray:
    """(6, ...) Voigt strain with engineering shear strains -> (3, 3, ...) tensor."""
    v = np.asarray(voigt, dtype=float)
    return np.stack(
        [
            np.stack([v[0], v[5] / 2, v[4] / 2]),
            np.stack([v[5] / 2, v[1], v[3] / 2]),
            np.stack([v[4] / 2, v[3] / 2, v[2]]),
        ]
    )


def stress_to_voigt(stress: np.ndarray) -> np.ndarray:
    """(3, 3, ...) symmetric stress tensor -> (6, ...) Voigt vector
    [s_xx, s_yy, s_zz, s_yz, s_xz, s_xy]. The symmetric part is used."""
    t = np.asarray(stress, dtype=float)
    return np.stack(
        [
            t[0, 0],
            t[1, 1],
            t[2, 2],
            (t[1, 2] + t[2, 1]) / 2,
            (t[0, 2] + t[2, 0]) / 2,
            (t[0, 1] + t[1, 0]) / 2,
        ]
    )


def voigt_to_stress(voigt: np.ndarray) -> np.ndarray:
    """(6, ...) Voigt stress -> (3, 3, ...) tensor."""
    v = np.asarray(voigt, dtype=float)
    return np.stack(
        [np.stack([v[0], v[5], v[4]]), np.stack([v[5], v[1], v[3]]), np.stack([v[4], v[3], v[2]])]
    )


def stiffness_to_tensor(stiffness_voigt: np.ndarray) -> np.ndarray:
    """(..., 6, 6) Voigt stiffness [Pa] -> (..., 3, 3, 3, 3) tensor C_ijkl [Pa]."""
    c = np.asarray(stiffness_voigt, dtype=float)
    return c[..., VOIGT_INDEX[:, :, None, None], VOIGT_INDEX[None, None, :, :]]


def tensor_to_stiffness(stiffness_tensor: np.ndarray) -> np.ndarray:
    """(..., 3, 3, 3, 3) tensor C_ijkl [Pa] -> (..., 6, 6) Voigt stiffness [Pa]."""
    t = np.asarray(stiffness_tensor, dtype=float)
    first = np.array([i for i, _ in VOIGT_PAIRS])  # i of the pair (i, j) of each Voigt index
    second = np.array([j for _, j in VOIGT_PAIRS])  # j
    return t[..., first[:, None], second[:, None], first[None, :], second[None, :]]


def _check_rotation(rotation: np.ndarray) -> np.ndarray:
    r = np.asarray(rotation, dtype=float)
    if r.shape[-2:] != (3, 3):
        raise ValueError(f"rotation must have shape (..., 3, 3), got {r.shape}")
    identity = np.einsum("...ia,...ja->...ij", r, r)
    if not np.allclose(identity, np.eye(3), atol=1e-8):
        raise ValueError("rotation must be orthogonal (R @ R.T = I within 1e-8)")
    return r


def rotate_stiffness(stiffness_voigt: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Voigt stiffness [Pa] in the rotated frame: C'_ijkl = R_ia R_jb R_kc R_ld C_abcd.

    stiffness_voigt (..., 6, 6), rotation (..., 3, 3) (leading axes broadcast, e.g. one
    rotation per grain); returns (..., 6, 6).
    """
    r = _check_rotation(rotation)
    c = stiffness_to_tensor(stiffness_voigt)
    rotated = np.einsum("...ia,...jb,...kc,...ld,...abcd->...ijkl", r, r, r, r, c)
    return tensor_to_stiffness(rotated)


def rotate_tensor(tensor: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Second-order tensor components in the rotated frame: t'_ij = R_ia R_jb t_ab.

    tensor (3, 3, ...) (trailing axes, e.g. a voxel grid, are carried along),
    rotation (3, 3); returns (3, 3, ...).
    """
    r = _check_rotation(rotation)
    if r.shape != (3, 3):
        raise ValueError(f"rotation must have shape (3, 3), got {r.shape}")
    t = np.asarray(tensor, dtype=float)
    if t.shape[:2] != (3, 3):
        raise ValueError(f"tensor must have shape (3, 3, ...), got {t.shape}")
    return np.einsum("ia,jb,ab...->ij...", r, r, t)


def normal_component(direction: np.ndarray, tensor: np.ndarray) -> np.ndarray:
    """n_i t_ij n_j per point: direction (N, 3) unit vectors, tensor (3, 3, N); returns (N,).
    Nine products over N written out (an einsum over these strides is ~10x slower)."""
    total = np.zeros(direction.shape[0])
    for i in range(3):
        for j in range(3):
            total += direction[:, i] * direction[:, j] * tensor[i, j]
    return total
