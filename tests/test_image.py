"""Pictures of digits: files that are no digit picture fail with a clear, named error."""

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

