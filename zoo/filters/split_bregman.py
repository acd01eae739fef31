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

# Most images side by side in one block, the innermost loop's length. The loop vectorizes across images;
# the compiler's checks that its slices do not overlap run once per pixel, so longer blocks pay them less
# often, until a block's six work arrays outgrow the cache (timed per image on 7x7 images: 192 is 1.4x
# faster than 64, 384 1.1x faster than 192, 512 slower than 192). One 64x3 bank is one block of 192.
_MAX_BLOCK = 384
# Images per skimage call in the reference: its rows then stay in cache too.
_IMAGES_PER_SKIMAGE_CALL = 256


def _sweep_kernel(
    images: np.ndarray, denoised: np.ndarray, weight: float, sweeps: int, block: int, edge: bool
) -> None:  # pragma: no cover
    """Denoise ``images`` ``(K, n, n)`` into ``denoised``, ``block`` images side by side at a time.

    Each block is laid out as ``(n+2, n+2, block)``, the image inside and the ghost frame (:data:`FRAMES`;
    ``edge`` selects ``"edge"``) around, images beyond ``K`` zero; ``sweeps`` sweeps run on it in place.
    Plain Python, compiled by :func:`_compiled_kernel`. Each update is skimage's isotropic Gauss-Seidel step
    in skimage's raster order, with two rewrites that only change rounding: ``x / norm`` is
    ``x * (1 / norm)``, and the shrink factor ``s*lam / (s*lam + 1)`` is computed once for ``dx`` and ``dy``
    (one division instead of three).
    """
    count, size = images.shape[0], images.shape[-1]
    width = size + 2
    framed_block = width * width * block
    u = np.empty(framed_block)
    f_all = np.empty(size * size * block)
    dx = np.empty(framed_block)
    dy = np.empty(framed_block)
    bx = np.empty(framed_block)
    by = np.empty(framed_block)
    lam = 2 * weight
    inv_norm = 1.0 / (weight + 4 * lam)
    for first in range(0, count, block):
        # Lay the block out: data term, then the start (image and frame).
        for k in range(block):
            image = first + k
            for r in range(size):
                for c in range(size):
                    f_all[(r * size + c) * block + k] = images[image, r, c] if image < count else 0.0
        for r in range(width):
            for c in range(width):
                # The frame's source pixel (row, col), or -1 for skimage's zero corners.
                row, col = min(max(r - 1, 0), size - 1), min(max(c - 1, 0), size - 1)
                if not edge and (r == 0 or r == width - 1) != (c == 0 or c == width - 1):
                    if r == 0:
                        row = 1
                    if c == 0:
                        col = 1
                elif not edge and (r == 0 or r == width - 1):
                    row = -1
                p = (r * width + c) * block
                for k in range(block):
                    u[p + k] = f_all[(row * size + col) * block + k] if row >= 0 else 0.0
        for k in range(len(f_all)):
            f_all[k] = weight * f_all[k]  # the data term's product, the same in every sweep
        dx[:] = 0.0
        dy[:] = 0.0
        bx[:] = 0.0
        by[:] = 0.0
        for _ in range(sweeps):
            for r in range(1, size + 1):
                for c in range(1, size + 1):
                    p = (r * width + c) * block
                    pn = p - width * block
                    ps = p + width * block
                    pw = p - block
                    pe = p + block
                    fi = ((r - 1) * size + (c - 1)) * block
                    o = u[p : p + block]
                    o_n = u[pn : pn + block]
                    o_s = u[ps : ps + block]
                    o_w = u[pw : pw + block]
                    o_e = u[pe : pe + block]
                    dx_c = dx[p : p + block]
                    dx_w = dx[pw : pw + block]
                    dy_c = dy[p : p + block]
                    dy_n = dy[pn : pn + block]
                    bx_c = bx[p : p + block]
                    bx_w = bx[pw : pw + block]
                    by_c = by[p : p + block]
                    by_n = by[pn : pn + block]
                    f = f_all[fi : fi + block]
                    for k in range(block):
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
                            + f[k]
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
        for k in range(min(block, count - first)):
            for r in range(size):
                for c in range(size):
                    denoised[first + k, r, c] = u[((r + 1) * width + c + 1) * block + k]


@functools.cache
def _compiled_kernel() -> Callable[[np.ndarray, np.ndarray, float, int, int, bool], None]:
    import numba  # deferred: `import zoo` stays light, and only featurizing pays numba's import

    # error_model="numpy": no Python zero-division branch in the loop (it would block vectorization; the
    # divisors are >= 1 anyway). No fastmath: operations keep their order and IEEE rounding.
    return numba.njit(cache=True, nogil=True, error_model="numpy")(_sweep_kernel)


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
    images = np.ascontiguousarray(images, dtype=np.float64)
    count = images.shape[0]
    blocks = max(1, -(-count // _MAX_BLOCK))
    block = -(-count // blocks)
    block += -block % 4  # whole vectors of 4 doubles
    denoised = np.empty_like(images)
    _compiled_kernel()(images, denoised, float(weight), int(sweeps), block, frame == "edge")
    return denoised


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
