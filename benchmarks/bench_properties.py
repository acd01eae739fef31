"""Time measuring sharpness + noisiness of 2,000 decoded 224x224 images: plain loop vs zoo.

Usage: ``python benchmarks/bench_properties.py [--images 2000] [--size 224] [--loop-images N]``

The images are random crops of scikit-image's bundled photographs (the ``natural`` source), decoded in
memory before any timing. The plain loop is what one would write without zoo: per image, scipy's
Laplacian convolution per channel and ``skimage.restoration.estimate_sigma``. ``--loop-images`` times the
loop on the first N images only and scales the time up linearly (it says so). zoo is timed after a
warm-up, best of ``--repeats`` runs (shared machines are noisy). Prints figures; no pass/fail (the goal
is <= 5 s for zoo on a 2-core machine).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from scipy import ndimage
from skimage import img_as_float
from skimage.restoration import estimate_sigma

from zoo.images.properties import measure_properties
from zoo.images.sources import load_source

LAPLACIAN = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64)


def plain_loop(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-image sharpness and noise sigma the straightforward way (scipy/skimage, one image at a time)."""
    sharp, noise = [], []
    for image in images:
        as_float = img_as_float(image)
        channels = [ndimage.convolve(as_float[..., c], LAPLACIAN)[1:-1, 1:-1].var() for c in range(3)]
        sharp.append(np.mean(channels))
        noise.append(estimate_sigma(as_float, channel_axis=-1, average_sigmas=True))
    return np.asarray(sharp), np.asarray(noise)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--loop-images", type=int, default=None, help="time the plain loop on this many")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3, help="zoo runs; the best is reported")
    args = parser.parse_args()

    photos = load_source("natural", image_size=args.size, seed=0, n_per_class=1).class_names
    per_class = -(-args.images // len(photos))
    images = load_source("natural", image_size=args.size, seed=0, n_per_class=per_class).images[: args.images]
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"{len(images)} images of {args.size}x{args.size} (uint8, in memory), {os.cpu_count()} CPUs, load {load}")

    measure_properties(images[:16], ["sharpness", "noisiness"], batch_size=args.batch_size)  # warm-up
    zoo_runs = []
    for _ in range(args.repeats):  # the machine may be shared: report the best of a few runs
        start = time.perf_counter()
        result = measure_properties(images, ["sharpness", "noisiness"], batch_size=args.batch_size)
        zoo_runs.append(time.perf_counter() - start)
    zoo_s = min(zoo_runs)

    loop_n = min(args.loop_images or len(images), len(images))
    start = time.perf_counter()
    sharp, noise = plain_loop(images[:loop_n])
    loop_s = (time.perf_counter() - start) * len(images) / loop_n

    subset = measure_properties(images[:loop_n], ["sharpness", "noisiness"], batch_size=args.batch_size)
    extrapolated = f" (extrapolated from {loop_n} images)" if loop_n < len(images) else ""
    print(f"plain per-image loop : {loop_s:8.2f} s{extrapolated}")
    runs = ", ".join(f"{t:.2f}" for t in zoo_runs)
    print(f"zoo measure_properties: {zoo_s:8.2f} s (best of {len(zoo_runs)}: {runs})")
    print(f"speed-up             : {loop_s / zoo_s:8.1f}x")
    print(
        f"agreement on the looped images: sharpness mean {subset['sharpness'].value:.6g} vs {sharp.mean():.6g}, "
        f"noisiness mean {subset['noisiness'].value:.6g} vs {noise.mean():.6g}"
    )
    print(
        f"dataset: sharpness {result['sharpness'].value:.5g} +- {result['sharpness'].spread:.3g}, "
        f"noisiness {result['noisiness'].value:.5g} +- {result['noisiness'].spread:.3g}"
    )


if __name__ == "__main__":
    main()
