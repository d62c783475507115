"""Turn a picture of a digit into the network's input, the way the training digits were made.

Grayscale; a dark digit on a light background is inverted (ink is bright, as in the data);
cropped to the ink; scaled so its longer side fills 14 of 20 pixels (MNIST's 20-in-28 box,
resampled to 20x20); centred by its centre of mass; unrolled column-major into 400 values in
[0, 1].
"""

import warnings

import numpy as np
from scipy import ndimage

SIZE = 20
INK_BOX = 14  # MNIST fits digits in 20 of 28 pixels; at 20x20 that is 14
MAX_PIXELS = 25_000_000  # refuse larger pictures before decoding them
THINNEST = 0.1  # ink narrower than this fraction of its length is a line, not a digit


def _open_gray(path):
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise ImportError("reading images needs Pillow: pip install 'fastnn[plot]'") from None
    try:
        with Image.open(path) as img:
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise ValueError(f"{path}: image of {width}x{height} pixels is too large "
                                 f"(at most {MAX_PIXELS:,} pixels)")
            frames = getattr(img, "n_frames", 1)
            if frames > 1:
                warnings.warn(f"{path}: an animation of {frames} frames; reading the first",
                              stacklevel=3)
            return _gray(img, Image)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except UnidentifiedImageError:
        raise ValueError(f"{path}: not an image that can be read (PNG or JPEG expected)") from None
    except (OSError, Image.DecompressionBombError) as err:
        raise ValueError(f"{path}: unreadable image ({err})") from None


def _gray(img, Image):
    """A PIL image as grayscale in [0, 1]: transparency over white (drawing canvases export
    ink on a transparent background), 16-bit and float images scaled by their range."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(img, dtype=np.float64)
        top = (1.0 if img.mode == "F" and values.max() <= 1.0 else
               255.0 if img.mode == "F" else
               65535.0 if img.mode.startswith("I;16") or values.max() <= 65535 else 2.0**32 - 1)
        return np.clip(values / top, 0.0, 1.0)
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        img = Image.alpha_composite(Image.new("RGBA", img.size, "white"), img.convert("RGBA"))
    return np.asarray(img.convert("L"), dtype=np.float64) / 255.0


def digit_input(gray):
    """A 2-D grayscale array in [0, 1] -> the network's (400,) input (see the module doc)."""
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    ink = 1.0 - gray if np.median(border) > 0.5 else gray.copy()
    ink -= np.median(np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]]))
    ink = np.clip(ink, 0.0, None)
    if ink.max() <= 0.05:
        raise ValueError("the image holds no digit: no ink against the background")
    ink /= ink.max()
    rows, cols = np.nonzero(ink > 0.1)
    crop = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    if min(crop.shape) < THINNEST * max(crop.shape):
        warnings.warn(f"the ink is a thin line ({crop.shape[1]}x{crop.shape[0]} pixels), not a "
                      "digit: the prediction means little", stacklevel=3)
    scale = INK_BOX / max(crop.shape)
    zoom = [max(scale, 1.0 / side) for side in crop.shape]  # at least one pixel each way
    small = np.clip(ndimage.zoom(crop, zoom, order=1, grid_mode=True, mode="grid-constant"), 0, 1)
    box = np.zeros((SIZE, SIZE))
    r0, c0 = (SIZE - np.array(small.shape)) // 2
    box[r0:r0 + small.shape[0], c0:c0 + small.shape[1]] = small
    shift = np.array([SIZE / 2 - 0.5] * 2) - ndimage.center_of_mass(box)
    box = np.clip(ndimage.shift(box, shift, order=1, mode="constant"), 0, 1)
    return box.ravel(order="F")


def load_digit_image(path):
    """Read a PNG/JPEG of one digit and return its (400,) network input."""
    try:
        return digit_input(_open_gray(path))
    except ValueError as err:
        message = str(err)
        raise ValueError(message if message.startswith(str(path))
                         else f"{path}: {message}") from None
