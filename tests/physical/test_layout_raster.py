"""The layout figures above figures.RASTER_CELLS cells are an image: each pixel carries the
area-weighted colour of the cells on it and their coverage, so the picture keeps what polygons show."""

from __future__ import annotations

import numpy as np

from flow.report import figures


def _image(boxes: np.ndarray, colors: np.ndarray, extent, pixels: int) -> np.ndarray:
    fig, ax = figures.plt.subplots()
    figures.draw_cells(ax, boxes, colors, extent, pixels=pixels)
    img = np.asarray(ax.images[0].get_array())
    figures.plt.close(fig)
    return img


def test_raster_coverage_and_colour():
    # 30,000 cells of 0.5 x 0.5 µm tiling the left half of a 100 x 150 µm die, red; a 10 x 10 µm
    # blue macro at (80, 20); 200 pixels across: 0.5 µm per pixel
    nx, ny = 100, 300
    gx, gy = np.meshgrid(np.arange(nx) * 0.5, np.arange(ny) * 0.5)
    boxes = np.column_stack([gx.ravel(), gy.ravel(), np.full(gx.size, 0.5), np.full(gx.size, 0.5)])
    colors = np.tile([1.0, 0.0, 0.0, 1.0], (len(boxes), 1))
    boxes = np.vstack([boxes, [[80.0, 20.0, 10.0, 10.0]]])
    colors = np.vstack([colors, [[0.0, 0.0, 1.0, 1.0]]])
    assert len(boxes) > figures.RASTER_CELLS
    img = _image(boxes, colors, (0.0, 0.0, 100.0, 150.0), 200)
    assert img.shape == (300, 200, 4)
    left, right = img[:, :100], img[:, 100:]
    assert np.allclose(left[..., 3], 1.0) and np.allclose(left[..., :3], [1.0, 0.0, 0.0])  # covered, red
    macro = img[40:60, 160:180]  # rows y 20..30 µm, columns x 80..90 µm
    assert np.allclose(macro[..., 3], 1.0) and np.allclose(macro[..., :3], [0.0, 0.0, 1.0])
    assert np.isclose(right[..., 3].sum(), 20 * 20)  # nothing else on the right half
    # the coverage of the whole image is the cells' area in pixels
    assert np.isclose(img[..., 3].sum(), (50.0 * 150.0 + 100.0) / 0.25)


def test_raster_mixes_colours_of_a_shared_pixel():
    # 2 cells per pixel (0.25 µm wide, pixel 0.5 µm): half red, half green -> yellow-ish, opaque
    n = 2 * 12000
    x = np.arange(n) * 0.25
    boxes = np.column_stack([x % 300.0, np.floor(x / 300.0) * 0.5, np.full(n, 0.25), np.full(n, 0.5)])
    colors = np.where((np.arange(n) % 2 == 0)[:, None], [1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 1.0])
    img = _image(boxes, colors, (0.0, 0.0, 300.0, 10.0), 600)
    full = img[: int(boxes[:, 1].max() / 0.5)]  # the rows the cells fill completely
    assert np.allclose(full[..., 3], 1.0) and np.allclose(full[..., :3], [0.5, 0.5, 0.0])
