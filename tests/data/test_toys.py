import numpy as np
import pytest

from dislab.data import _toys
from dislab.data._raycast import (
    Box,
    Camera,
    Capsule,
    Cylinder,
    Lighting,
    Plane,
    Sphere,
    normalize,
    rotation_z,
    trace,
)


@pytest.mark.parametrize(
    ("shape", "centre", "radius"),
    [
        (Box((1, 2, 3), (1, 2, 2)), (1, 2, 3), 3.0),
        (Sphere((0, 1, 0), 0.5), (0, 1, 0), 0.5),
        (Capsule((0, 0, 0), (0, 0, 2), 0.5), (0, 0, 1), 1.5),
        (Cylinder((-3, 0, 0), (3, 0, 0), 1.0), (0, 0, 0), 4.0),
    ],
)
def test_bounding_spheres(shape, centre, radius):
    got_centre, got_radius = _toys.bounding_sphere(shape)
    np.testing.assert_allclose(got_centre, centre)
    assert got_radius == pytest.approx(radius)


def test_planes_have_no_bounding_sphere():
    with pytest.raises(TypeError, match="Plane"):
        _toys.bounding_sphere(Plane((0, 0, 0), (0, 0, 1)))


def test_stacked_primitives_hit_like_each_primitive_on_its_own_rays():
    parts = [
        Box((0, 0, 0.5), (1, 0.5, 0.5), rotation_z(30)),
        Box((0.5, 0, 0.2), (0.3, 0.6, 0.2), rotation_z(-10)),
        Box((0, 0.3, 0.4), (0.7, 0.7, 0.4), rotation_z(5)),
    ]
    rng = np.random.default_rng(0)
    o = rng.normal(size=(3, 600)) * 3
    aim = rng.normal(size=(3, 600)) * 0.6 + np.array([[0], [0], [0.4]])
    d = normalize((aim - o).T).T.copy()  # rays aimed near the boxes: some hit, some miss
    view = np.repeat(np.arange(3), 200)
    t, n = _toys.Stacked.of(parts, view).hit(o, d)
    assert np.isfinite(t).sum() > 50  # a fair share of the rays hit
    for v, part in enumerate(parts):
        rays = view == v
        t_own, n_own = part.hit(o[:, rays], d[:, rays])
        np.testing.assert_array_equal(np.isfinite(t[rays]), np.isfinite(t_own))
        hit = np.isfinite(t_own)
        np.testing.assert_allclose(t[rays][hit], t_own[hit], rtol=1e-12)
        np.testing.assert_allclose(n[:, rays][:, hit], n_own[:, hit], atol=1e-12)
    sub = np.array([5, 250, 599])  # take: the primitives of a subset of the rays
    np.testing.assert_array_equal(_toys.Stacked.of(parts, view).take(sub).view, [0, 1, 2])


def test_render_views_equals_plain_ray_casting_of_each_shot():
    """Mixed toys (cast in groups of alike toys), shared views and two lightings per view."""
    toys = [
        builder(np.random.default_rng(seed), (0.8, 0.2, 0.1))
        for seed, builder in enumerate([_toys.car, _toys.truck, _toys.car, _toys.airplane])
    ]
    cameras = [
        Camera(
            target=(0, 0, 0.4),
            distance=6,
            azimuth=35 * k,
            elevation=25,
            fov=25,
            width=24,
            height=24,
        )
        for k in range(len(toys))
    ]
    lights = [Lighting(direction=(1, -1, 2), specular=0.2), Lighting(direction=(-1, 0, 1))]
    shots = [(0, lights[0]), (1, lights[1]), (0, lights[1]), (2, lights[0]), (3, lights[1])]
    images = _toys.render_views(list(zip(toys, cameras)), shots, (0.3, 0.4, 0.5), chunk=1)
    for image, (v, light) in zip(images, shots):
        plain = trace(cameras[v], toys[v].shapes, light).colour(toys[v].albedo, (0.3, 0.4, 0.5))
        np.testing.assert_array_equal(image, np.round(np.clip(plain, 0, 1) * 255))


@pytest.mark.parametrize(
    "builder", [_toys.car, _toys.truck, _toys.animal, _toys.human, _toys.airplane]
)
def test_rendering_equals_plain_ray_casting(builder):
    toy = builder(np.random.default_rng(3), (0.8, 0.2, 0.1))
    camera = Camera(target=(0, 0, 0.4), distance=6.0, azimuth=35, elevation=25, fov=25)
    light = Lighting(direction=(1, -1, 2), specular=0.2)
    plain = trace(camera, toy.shapes, light).colour(toy.albedo, background=(1, 1, 1))
    expected = np.round(np.clip(plain, 0, 1) * 255).astype(np.uint8)
    image = _toys.render(toy, camera, light, (1, 1, 1))
    np.testing.assert_array_equal(image, expected)
    assert (image != 255).any(axis=-1).mean() > 0.03  # the toy is in view


def test_builders_are_deterministic_and_vary_with_the_seed():
    a = _toys.animal(np.random.default_rng([1, 2]), (0.5, 0.5, 0.5))
    assert a == _toys.animal(np.random.default_rng([1, 2]), (0.5, 0.5, 0.5))
    assert a != _toys.animal(np.random.default_rng([1, 3]), (0.5, 0.5, 0.5))
    grey = _toys.car(np.random.default_rng(0), (1.0, 0.0, 0.0)).grey()
    assert grey.albedo[0] == pytest.approx((0.299, 0.299, 0.299))
