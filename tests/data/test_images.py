import numpy as np
from PIL import Image

from dislab.data._images import open_thumbnail, thumbnail, thumbnail_size


def test_thumbnail_size_truncates_like_old_pillow():
    # 476 x 600 stand-in painting into (350, 274): width 217.37 -> 217 (modern Pillow rounds).
    assert thumbnail_size(476, 600, 350, 274) == (217, 274)
    assert thumbnail_size(128, 128, 64, 64) == (64, 64)
    assert thumbnail_size(50, 40, 64, 64) == (50, 40)  # never enlarges
    assert thumbnail_size(1000, 10, 64, 64) == (64, 1)


def test_thumbnail_is_one_lanczos_resize():
    image = np.random.RandomState(0).randint(0, 256, (600, 476, 3)).astype(np.uint8)
    expected = np.asarray(Image.fromarray(image).resize((217, 274), Image.LANCZOS))
    np.testing.assert_array_equal(thumbnail(image, 350, 274), expected)


def test_open_thumbnail_uses_jpeg_draft_scaling(tmp_path):
    y, x = np.mgrid[0:2400, 0:1900]
    image = np.stack([x % 256, y % 256, (x + y) % 256], -1).astype(np.uint8)
    path = tmp_path / "big.jpg"
    Image.fromarray(image).save(path, quality=90)
    with Image.open(path) as reference:
        reference.draft(None, (350, 274))  # scale min(1900 // 350, 2400 // 274) = 5 -> 1/4
        assert reference.size == (475, 600)
        expected = np.asarray(reference.convert("RGB").resize((216, 274), Image.LANCZOS))
    np.testing.assert_array_equal(open_thumbnail(path, 350, 274), expected)
