import numpy as np
import pytest

from dislab.data import _toys
from dislab.data._raycast import Box, Camera, Capsule, Cylinder, Lighting, Plane, Sphere, trace


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


def test_group_bounding_sphere_holds_every_part_and_planes_are_refused():
    group = _toys.Group.of([Sphere((-2, 0, 0), 1), Sphere((2, 0, 0), 1), Box((0, 0, 0), (1, 1, 1))])
    np.testing.assert_allclose(group.centre, (0, 0, 0), atol=1e-12)
    assert group.radius == pytest.approx(3.0)
    with pytest.raises(TypeError, match="Plane"):
        _toys.bounding_sphere(Plane((0, 0, 0), (0, 0, 1)))


@pytest.mark.parametrize(
    "builder", [_toys.car, _toys.truck, _toys.animal, _toys.human, _toys.airplane]
)
def test_grouped_rendering_equals_plain_ray_casting(builder):
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
