"""Split-Bregman total-variation denoising of many small images at once, with skimage's update equations.

:func:`tv_denoise` is a compiled (numba) transcription of scikit-image's ``_denoise_tv_bregman`` kernel
(isotropic, ``skimage/restoration/_denoise_cy.pyx``): the same Gauss-Seidel raster order, the same
arithmetic in the same order, the same ghost frame, a fixed number of sweeps. What changes is the loop
layout: the innermost loop runs over the images, which are contiguous, so the compiler vectorizes it
(skimage's loop is the same but compiled without SIMD). Results agree with skimage's to rounding
(tested to 1e-9 relative; in practice they are usually bit-identical).

:func:`tv_denoise_skimage` is the reference: the same computation as one
:func:`skimage.restoration.denoise_tv_bregman` call per 256 images. It is kept for the equality test and as
the baseline of ``benchmarks/bench_metrics.py``.

numba is imported on first use, not with :mod:`zoo`; the compiled kernel is cached on disk, so only the
first call on a machine pays the compilation (about a second).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
from skimage.restoration import denoise_tv_bregman

__all__ = ["FRAMES", "tv_denoise", "tv_denoise_skimage"]

FRAMES = ("skimage", "edge")
"""Ghost-frame rules: ``"skimage"`` copies skimage's (top and left take the image's second row and column,
bottom and right repeat the last ones, corners 0); ``"edge"`` repeats the edge pixel on all four sides and
at the corners (a Neumann boundary, numpy ``"edge"``/scipy ``"nearest"``). The frame is never updated."""

# Images side by side in one block: the innermost loop's length, a compile-time constant so that the
# compiler sees a fixed distance between neighbouring pixels' slices and vectorizes the loop. 64 divides
# the channel count of most first layers (3 x 64) and keeps a block's six 7x7 work arrays (~250 kB) in L2.
_BLOCK = 64
# Images per skimage call in the reference: its rows then stay in cache too.
_IMAGES_PER_SKIMAGE_CALL = 256


def _sweep_kernel(
    out: np.ndarray, image: np.ndarray, size: int, weight: float, sweeps: int
) -> None:  # pragma: no cover
    """Run ``sweeps`` split-Bregman sweeps in place on ``out``, block after block.

    ``out`` is the flattened ``(blocks, size+2, size+2, _BLOCK)`` framed start (image inside, ghost frame
    around), ``image`` the flattened ``(blocks, size, size, _BLOCK)`` data term. Plain Python, compiled by
    :func:`_compiled_kernel`. Each update is skimage's isotropic Gauss-Seidel step in skimage's raster
    order, with two rewrites that only change rounding: ``x / norm`` is ``x * (1 / norm)``, and the shrink
    factor ``s*lam / (s*lam + 1)`` is computed once for ``dx`` and ``dy`` (one division instead of three).
    """
    width = size + 2
    framed_block = width * width * _BLOCK
    image_block = size * size * _BLOCK
    dx = np.empty(framed_block)
    dy = np.empty(framed_block)
    bx = np.empty(framed_block)
    by = np.empty(framed_block)
    lam = 2 * weight
    inv_norm = 1.0 / (weight + 4 * lam)
    for block in range(len(out) // framed_block):
        u = out[block * framed_block : (block + 1) * framed_block]
        f_all = image[block * image_block : (block + 1) * image_block]
        dx[:] = 0.0
        dy[:] = 0.0
        bx[:] = 0.0
        by[:] = 0.0
        for _ in range(sweeps):
            for r in range(1, size + 1):
                for c in range(1, size + 1):
                    p = (r * width + c) * _BLOCK
                    pn = p - width * _BLOCK
                    ps = p + width * _BLOCK
                    pw = p - _BLOCK
                    pe = p + _BLOCK
                    fi = ((r - 1) * size + (c - 1)) * _BLOCK
                    o = u[p : p + _BLOCK]
                    o_n = u[pn : pn + _BLOCK]
                    o_s = u[ps : ps + _BLOCK]
                    o_w = u[pw : pw + _BLOCK]
                    o_e = u[pe : pe + _BLOCK]
                    dx_c = dx[p : p + _BLOCK]
                    dx_w = dx[pw : pw + _BLOCK]
                    dy_c = dy[p : p + _BLOCK]
                    dy_n = dy[pn : pn + _BLOCK]
                    bx_c = bx[p : p + _BLOCK]
                    bx_w = bx[pw : pw + _BLOCK]
                    by_c = by[p : p + _BLOCK]
                    by_n = by[pn : pn + _BLOCK]
                    f = f_all[fi : fi + _BLOCK]
                    for k in range(_BLOCK):
                        uprev = o[k]
                        ux = o_e[k] - uprev
                        uy = o_s[k] - uprev
                        unew = (
                            lam
                            * (
                                +o_s[k]
                                + o_n[k]
                                + o_e[k]
                                + o_w[k]
                                + dx_w[k]
                                - dx_c[k]
                                + dy_n[k]
                                - dy_c[k]
                                - bx_w[k]
                                + bx_c[k]
                                - by_n[k]
                                + by_c[k]
                            )
                            + weight * f[k]
                        ) * inv_norm
                        o[k] = unew
                        tx = ux + bx_c[k]
                        ty = uy + by_c[k]
                        shrink = np.sqrt(tx * tx + ty * ty) * lam
                        shrink = shrink / (shrink + 1)
                        dxx = shrink * tx
                        dyy = shrink * ty
                        dx_c[k] = dxx
                        dy_c[k] = dyy
                        bx_c[k] += ux - dxx
                        by_c[k] += uy - dyy


@functools.cache
def _compiled_kernel() -> Callable[[np.ndarray, np.ndarray, int, float, int], None]:
    import numba  # deferred: `import zoo` stays light, and only featurizing pays numba's import

    # error_model="numpy": no Python zero-division branch in the loop (it would block vectorization; the
    # divisors are >= 1 anyway). No fastmath: operations keep their order and IEEE rounding.
    return numba.njit(cache=True, nogil=True, error_model="numpy")(_sweep_kernel)


def _framed(images: np.ndarray, frame: str) -> np.ndarray:
    """``(..., n, n, K)`` -> ``(..., n+2, n+2, K)`` with the ghost frame ``frame`` (see :data:`FRAMES`)."""
    if frame == "edge":
        return np.pad(images, [(0, 0)] * (images.ndim - 3) + [(1, 1), (1, 1), (0, 0)], mode="edge")
    size = images.shape[-2]
    out = np.zeros((*images.shape[:-3], size + 2, size + 2, images.shape[-1]))
    out[..., 1:-1, 1:-1, :] = images
    out[..., 0, 1:-1, :] = images[..., 1, :, :]
    out[..., 1:-1, 0, :] = images[..., :, 1, :]
    out[..., -1, 1:-1, :] = images[..., size - 1, :, :]
    out[..., 1:-1, -1, :] = images[..., :, size - 1, :]
    return out


def tv_denoise(images: np.ndarray, weight: float, sweeps: int, frame: str = "skimage") -> np.ndarray:
    """Isotropic split-Bregman TV denoising of each ``n x n`` image, a fixed number of sweeps.

    Parameters
    ----------
    images : ndarray, shape (K, n, n)
        Independent images (e.g. every colour channel of every filter), each denoised from a zero start.
    weight : float
        skimage's ``weight`` (``lambda/2`` of the ROF problem); smaller denoises more.
    sweeps : int
        Gauss-Seidel sweeps, all run (skimage's ``eps=0, max_num_iter=sweeps``).
    frame : {"skimage", "edge"}
        Ghost-frame rule, :data:`FRAMES`.

    Returns
    -------
    denoised : ndarray, shape (K, n, n), float64
    """
    if frame not in FRAMES:
        raise ValueError(f"frame must be one of {FRAMES}, got {frame!r}")
    images = np.asarray(images, dtype=np.float64)
    count, size = images.shape[0], images.shape[-1]
    blocks = -(-count // _BLOCK)
    padded = np.zeros((blocks * _BLOCK, size, size))  # zero images stay zero: padding changes nothing
    padded[:count] = images
    stacked = np.ascontiguousarray(padded.reshape(blocks, _BLOCK, size, size).transpose(0, 2, 3, 1))
    out = _framed(stacked, frame)
    _compiled_kernel()(out.reshape(-1), stacked.reshape(-1), size, float(weight), int(sweeps))
    return out[:, 1:-1, 1:-1, :].transpose(0, 3, 1, 2).reshape(-1, size, size)[:count]


def tv_denoise_skimage(images: np.ndarray, weight: float, sweeps: int) -> np.ndarray:
    """Reference for :func:`tv_denoise` with ``frame="skimage"``: skimage's own kernel, 256 images a call.

    With ``channel_axis=None`` on an ``(n, n, K)`` stack, skimage's kernel denoises each of the K images
    from a zero start and couples them only through its stop test, which ``eps=0`` disables.
    """
    images = np.asarray(images, dtype=np.float64)
    size = images.shape[-1]
    denoised = np.empty_like(images)
    for start in range(0, len(images), _IMAGES_PER_SKIMAGE_CALL):
        part = slice(start, start + _IMAGES_PER_SKIMAGE_CALL)
        stack = np.ascontiguousarray(np.moveaxis(images[part], 0, -1))
        out = denoise_tv_bregman(stack, weight=weight, max_num_iter=sweeps, eps=0.0, isotropic=True)
        denoised[part] = np.moveaxis(out.reshape(size, size, -1), -1, 0)
    return denoised
