"""Turn a picture of a digit into the network's input, the way the training digits were made.

Grayscale; a dark digit on a light background is inverted (ink is bright, as in the data);
cropped to the ink; scaled so its longer side fills 14 of 20 pixels (MNIST's 20-in-28 box,
resampled to 20x20); centred by its centre of mass; unrolled column-major into 400 values in
[0, 1].
"""

import numpy as np
from scipy import ndimage

SIZE = 20
INK_BOX = 14  # MNIST fits digits in 20 of 28 pixels; at 20x20 that is 14
MAX_PIXELS = 25_000_000  # refuse larger pictures before decoding them


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
            return np.asarray(img.convert("L"), dtype=np.float64) / 255.0
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except UnidentifiedImageError:
        raise ValueError(f"{path}: not an image that can be read (PNG or JPEG expected)") from None
    except (OSError, Image.DecompressionBombError) as err:
        raise ValueError(f"{path}: unreadable image ({err})") from None


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
    scale = INK_BOX / max(crop.shape)
    small = np.clip(ndimage.zoom(crop, scale, order=1, grid_mode=True, mode="grid-constant"), 0, 1)
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
        raise ValueError(message if message.startswith(str(path)) else f"{path}: {message}") from None
