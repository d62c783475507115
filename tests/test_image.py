"""Pictures of digits: files that are no digit picture fail with a clear, named error; odd
formats read as the digit a person sees."""

import numpy as np
import pytest


def test_non_images_and_huge_images(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    from fastnn.image import load_digit_image

    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ValueError, match="notes.png: not an image"):
        load_digit_image(text)
    huge = tmp_path / "huge.png"
    Image.new("L", (6000, 6000), 255).save(huge)
    with pytest.raises(ValueError, match="huge.png: image of 6000x6000 pixels is too large"):
        load_digit_image(huge)
    blank = tmp_path / "blank.png"
    Image.new("L", (50, 50), 255).save(blank)
    with pytest.raises(ValueError, match="blank.png: the image holds no digit"):
        load_digit_image(blank)



# --- pictures from the wild: each must read as the digit a person sees --------------------


def stroke(shape=(60, 60)):
    """A vertical bar, the digit 1: ink where True."""
    ink = np.zeros(shape, bool)
    ink[10:50, 26:34] = True
    return ink


def expected_one():
    from fastnn.image import digit_input

    return digit_input(np.where(stroke(), 0.0, 1.0))  # the same bar, dark on white


def write(tmp_path, name, image, **save):
    path = tmp_path / name
    image.save(path, **save)
    return path


@pytest.mark.parametrize("kind", ["RGBA on transparent", "LA on transparent", "16-bit gray",
                                  "float TIFF"])
def test_odd_formats_read_as_the_same_digit(tmp_path, kind):
    Image = pytest.importorskip("PIL.Image")
    from fastnn.image import load_digit_image

    ink = stroke()
    if kind == "RGBA on transparent":  # what drawing canvases export: alpha is the ink
        rgba = np.zeros((*ink.shape, 4), np.uint8)
        rgba[..., 3] = np.where(ink, 255, 0)
        path = write(tmp_path, "canvas.png", Image.fromarray(rgba, "RGBA"))
    elif kind == "LA on transparent":
        la = np.zeros((*ink.shape, 2), np.uint8)
        la[..., 1] = np.where(ink, 255, 0)
        path = write(tmp_path, "canvas.png", Image.fromarray(la, "LA"))
    elif kind == "16-bit gray":  # gray ink 16000 of 65535 on white
        path = write(tmp_path, "deep.png", Image.fromarray(np.where(ink, 16000, 65535).astype(
            np.uint16)))
    else:
        path = write(tmp_path, "scan.tif", Image.fromarray(np.where(ink, 0.0, 1.0).astype(
            np.float32), "F"))
    x = load_digit_image(path)
    assert x.shape == (400,) and x.max() == pytest.approx(1.0)
    assert np.abs(x - expected_one()).max() < 0.05


def test_a_thin_line_warns_instead_of_answering_quietly(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    from fastnn.image import load_digit_image

    line = np.full((50, 250), 255, np.uint8)
    line[20:23, 20:220] = 0
    path = write(tmp_path, "line.png", Image.fromarray(line))
    with pytest.warns(UserWarning, match=r"thin line \(200x3 pixels\)"):
        x = load_digit_image(path)
    assert np.isfinite(x).all()


def test_an_animation_says_which_frame_it_reads(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    from fastnn.image import load_digit_image

    first = Image.fromarray(np.where(stroke(), 0, 255).astype(np.uint8))
    second = Image.fromarray(np.where(stroke().T, 0, 255).astype(np.uint8))
    path = write(tmp_path, "anim.gif", first, save_all=True, append_images=[second])
    with pytest.warns(UserWarning, match="an animation of 2 frames; reading the first"):
        x = load_digit_image(path)
    assert np.abs(x - expected_one()).max() < 0.05
