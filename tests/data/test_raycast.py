import math

import numpy as np
import pytest

from dislab.data import _raycast as rc

MATTE = rc.Lighting(direction=(0, 0, 1), intensity=0.0, ambient=1.0)  # diffuse == 1 on hits


def _ray(origin, direction):
    return np.array([origin], float), rc.normalize(np.array([direction], float))


def test_camera_eye_and_basis():
    cam = rc.Camera(target=(1, 2, 3), distance=4, azimuth=90, elevation=0)
    np.testing.assert_allclose(cam.eye, [5, 2, 3], atol=1e-12)  # turned counter-clockwise
    forward, right, up = cam.basis()
    np.testing.assert_allclose(forward, [-1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(right, [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(up, [0, 0, 1], atol=1e-12)
    top = rc.Camera(distance=2, elevation=90)
    np.testing.assert_allclose(top.eye, [0, 0, 2], atol=1e-12)
    np.testing.assert_allclose(top.basis()[2], [0, 1, 0], atol=1e-12)  # image up = +y


def test_camera_rays_are_unit_and_centred():
    cam = rc.Camera(width=8, height=6, fov=40, azimuth=30, elevation=10)
    origins, dirs = cam.rays(supersample=3)
    assert origins.shape == dirs.shape == (6, 8, 9, 3)
    np.testing.assert_allclose(np.linalg.norm(dirs, axis=-1), 1.0)
    np.testing.assert_allclose(origins, np.broadcast_to(cam.eye, origins.shape))
    # the mean direction of the four central pixels is the viewing direction
    centre = rc.normalize(dirs[2:4, 3:5].reshape(-1, 3).mean(0))
    np.testing.assert_allclose(centre, cam.basis()[0], atol=1e-12)
    # 2x2 image: pixel centres sit half-way to the edge, at tan(angle) = tan(fov/2) / 2
    small = rc.Camera(width=2, height=2, fov=40, elevation=0)
    _, d = small.rays()
    forward, right, up = small.basis()
    np.testing.assert_allclose(
        d[0, 0, 0] @ up / (d[0, 0, 0] @ forward), math.tan(math.radians(20)) / 2
    )
    np.testing.assert_allclose(
        d[0, 0, 0] @ right / (d[0, 0, 0] @ forward), -math.tan(math.radians(20)) / 2
    )
    with pytest.raises(ValueError, match="supersample"):
        cam.rays(0)


def test_plane_intersection_distances():
    plane = rc.Plane((0, 0, 0), (0, 0, 2))
    o = np.array([[0, 0, 5.0]] * 4)
    d = np.array([[0, 0, -1], [0, 0.6, -0.8], [1, 0, 0], [0, 0, 1.0]])
    t, n = plane.intersect(o, d)
    np.testing.assert_allclose(t, [5.0, 6.25, np.inf, np.inf])  # 5 / cos, parallel, behind
    np.testing.assert_allclose(n[0], [0, 0, 1])


def test_sphere_intersection_from_outside_and_inside():
    sphere = rc.Sphere((0, 0, 0), 2.0)
    t, n = sphere.intersect(*_ray((-5, 0, 0), (1, 0, 0)))
    np.testing.assert_allclose(t, [3.0])
    np.testing.assert_allclose(n, [[-1, 0, 0]])
    t, _ = sphere.intersect(*_ray((0, 0, 0), (0, 1, 0)))  # from the centre: exit at r
    np.testing.assert_allclose(t, [2.0])
    t, _ = sphere.intersect(*_ray((-5, 2.5, 0), (1, 0, 0)))
    assert np.isinf(t[0])


def test_box_axis_aligned_and_rotated():
    box = rc.Box((0, 0, 0), (1, 2, 3))
    t, n = box.intersect(*_ray((-5, 0, 0), (1, 0, 0)))
    np.testing.assert_allclose(t, [4.0])
    np.testing.assert_allclose(n, [[-1, 0, 0]])
    t, n = box.intersect(*_ray((0, 0, 10), (0, 0, -1)))
    np.testing.assert_allclose(t, [7.0])
    np.testing.assert_allclose(n, [[0, 0, 1]])
    t, _ = box.intersect(*_ray((-5, 2.5, 0), (1, 0, 0)))  # passes beside it
    assert np.isinf(t[0])
    turned = rc.Box((0, 0, 0), (1, 1, 1), rotation=rc.rotation_z(45))
    t, _ = turned.intersect(*_ray((-5, 0, 0), (1, 0, 0)))
    np.testing.assert_allclose(t, [5 - math.sqrt(2)])  # hits the vertical edge
    diag = np.array([1.0, 1.0, 0.0]) / math.sqrt(2)
    t, n = turned.intersect(*_ray(-5 * diag, diag))  # perpendicular onto a face
    np.testing.assert_allclose(t, [4.0])
    np.testing.assert_allclose(n, [-diag], atol=1e-12)


def test_cylinder_side_and_cap():
    cyl = rc.Cylinder((0, 0, 0), (0, 0, 2), 0.5)
    t, n = cyl.intersect(*_ray((-5, 0, 1), (1, 0, 0)))
    np.testing.assert_allclose(t, [4.5])
    np.testing.assert_allclose(n, [[-1, 0, 0]], atol=1e-12)
    t, n = cyl.intersect(*_ray((0.2, 0, 7), (0, 0, -1)))
    np.testing.assert_allclose(t, [5.0])
    np.testing.assert_allclose(n, [[0, 0, 1]])
    t, _ = cyl.intersect(*_ray((-5, 0, 2.5), (1, 0, 0)))  # above the top
    assert np.isinf(t[0])


def test_capsule_side_and_rounded_end():
    cap = rc.Capsule((0, 0, 1), (0, 0, 3), 0.5)
    t, n = cap.intersect(*_ray((0, 0, 9), (0, 0, -1)))
    np.testing.assert_allclose(t, [9 - 3.5])
    np.testing.assert_allclose(n, [[0, 0, 1]])
    t, _ = cap.intersect(*_ray((-5, 0, 2), (1, 0, 0)))
    np.testing.assert_allclose(t, [4.5])
    t, _ = cap.intersect(*_ray((-5, 0, 3.3), (1, 0, 0)))  # through the top half ball
    np.testing.assert_allclose(t, [5 - math.sqrt(0.25 - 0.09)])


def test_cast_picks_the_nearest_shape_and_labels_misses():
    shapes = [rc.Sphere((0, 0, 0), 1), rc.Sphere((0, 3, 0), 1)]
    o = np.array([[0, -5, 0], [0, 10, 0], [5, 5, 5.0]])
    d = np.array([[0, 1, 0], [0, -1, 0], [1, 0, 0.0]])
    t, _, label = rc.cast(o, d, shapes)
    np.testing.assert_allclose(t[:2], [4.0, 6.0])
    assert label.tolist() == [0, 1, rc.MISS]
    assert np.isinf(t[2])


def test_orthographic_sphere_silhouette_is_pi_r_squared():
    # 64 px span 4 world units: a unit sphere covers pi * 16^2 = 804.2 pixels
    cam = rc.Camera(distance=10, elevation=30, azimuth=15, ortho_height=4.0)
    trace = rc.trace(cam, [rc.Sphere((0, 0, 0), 1.0)], MATTE, supersample=4)
    _, _, miss = trace.weights([0])
    assert (1 - miss).sum() == pytest.approx(math.pi * 16**2, rel=0.005)


def test_perspective_sphere_silhouette_matches_cone_angle():
    # a sphere of radius r at distance D subtends asin(r/D); on the image plane that is a
    # circle of radius tan(asin(r/D)) / tan(fov/2) * 32 pixels
    r, dist, fov = 1.0, 8.0, 30.0
    cam = rc.Camera(distance=dist, fov=fov, elevation=5)
    trace = rc.trace(cam, [rc.Sphere((0, 0, 0), r)], MATTE, supersample=4)
    radius = math.tan(math.asin(r / dist)) / math.tan(math.radians(fov / 2)) * 32
    assert (trace.label != rc.MISS).mean(-1).sum() == pytest.approx(math.pi * radius**2, rel=0.01)


@pytest.mark.parametrize("theta", [0.0, 30.0, 60.0])
def test_lambert_plane_is_albedo_times_cos(theta):
    a = math.radians(theta)
    light = rc.Lighting(direction=(0, math.sin(a), math.cos(a)), intensity=0.8, ambient=0.1)
    cam = rc.Camera(distance=5, elevation=50, width=8, height=8, ortho_height=2)
    albedo = np.array([0.9, 0.5, 0.2])
    image = rc.trace(cam, [rc.Plane((0, 0, 0), (0, 0, 1))], light).colour([albedo])
    expected = albedo * (0.1 + 0.8 * math.cos(a))
    np.testing.assert_allclose(image, np.broadcast_to(expected, image.shape))


def test_headlight_and_specular_terms():
    # camera straight above a plane, light straight up: n.v = n.l = n.h = 1
    cam = rc.Camera(distance=5, elevation=90, width=4, height=4, ortho_height=1)
    light = rc.Lighting(
        direction=(0, 0, 1), intensity=0.5, ambient=0.1, headlight=0.2, specular=0.3, shininess=10
    )
    trace = rc.trace(cam, [rc.Plane((0, 0, 0), (0, 0, 1))], light)
    np.testing.assert_allclose(trace.diffuse, 0.8)
    np.testing.assert_allclose(trace.specular, 0.3)
    matte = rc.trace(cam, [rc.Plane((0, 0, 0), (0, 0, 1))], light, gloss=[0.0])
    np.testing.assert_allclose(matte.specular, 0.0)
    with pytest.raises(ValueError, match="one value per shape"):
        rc.trace(cam, [rc.Plane((0, 0, 0), (0, 0, 1))], light, gloss=[1.0, 1.0])


def _shadow_scene(lighting):
    # camera straight down onto z = 0; unit ball at height 3; light 45 degrees from +x
    cam = rc.Camera(
        target=(-2, 0, 0), distance=10, elevation=90, width=128, height=128, ortho_height=12.0
    )
    shapes = [rc.Plane((0, 0, 0), (0, 0, 1), casts_shadow=False), rc.Sphere((0, 0, 3), 1.0)]
    return rc.trace(cam, shapes, lighting, supersample=2), (12.0 / 128) ** 2


def test_hard_shadow_area_is_the_projected_ellipse():
    # the shadow of a ball on the floor under a 45-degree light is an ellipse with semi-axes
    # r / cos(45) and r: area pi * r^2 * sqrt(2)
    light = rc.Lighting(direction=(1, 0, 1), intensity=0.7, ambient=0.2)
    trace, pixel_area = _shadow_scene(light)
    floor = trace.label == 0
    shadowed = floor & np.isclose(trace.diffuse, 0.2)
    assert shadowed.mean(-1).sum() * pixel_area == pytest.approx(math.pi * math.sqrt(2), rel=0.03)
    lit = floor & ~shadowed
    np.testing.assert_allclose(trace.diffuse[lit], 0.2 + 0.7 / math.sqrt(2))


def test_soft_shadow_has_penumbra_and_same_total_darkness():
    hard = rc.Lighting(direction=(1, 0, 1), intensity=0.7, ambient=0.2)
    soft = rc.Lighting(
        direction=(1, 0, 1), intensity=0.7, ambient=0.2, shadow_softness=5, shadow_samples=16
    )
    (t_hard, area), (t_soft, _) = _shadow_scene(hard), _shadow_scene(soft)
    lit = 0.2 + 0.7 / math.sqrt(2)

    def darkness(t):
        floor = t.label == 0
        return np.where(floor, lit - t.diffuse, 0).sum() / t.label.shape[-1] * area

    partial = (t_soft.label == 0) & (t_soft.diffuse > 0.2 + 1e-9) & (t_soft.diffuse < lit - 1e-3)
    assert partial.sum() > 100  # a penumbra exists
    assert darkness(t_soft) == pytest.approx(darkness(t_hard), rel=0.05)


def test_shadow_directions_lie_in_the_light_cone():
    light = rc.Lighting(direction=(0, 1, 1), shadow_softness=4, shadow_samples=12)
    dirs = light.shadow_directions()
    assert dirs.shape == (12, 3)
    np.testing.assert_allclose(np.linalg.norm(dirs, axis=1), 1.0)
    cos = dirs @ rc.normalize(np.array([0.0, 1, 1]))
    assert np.all(cos >= math.cos(math.radians(4)) - 1e-12)
    assert len(rc.Lighting(direction=(0, 0, 1)).shadow_directions()) == 1


def test_weights_reproduce_colour_and_cover_each_pixel_once():
    cam = rc.Camera(distance=6, elevation=20, width=16, height=16, fov=40)
    shapes = [
        rc.Plane((0, 0, 0), (0, 0, 1)),
        rc.Sphere((0, 0, 1), 1),
        rc.Box((1, 1, 0.5), (0.5, 0.5, 0.5)),
    ]
    trace = rc.trace(cam, shapes, MATTE, supersample=3)
    w, spec, miss = trace.weights([0, 1, 1])  # sphere and box merged into one group
    np.testing.assert_allclose(w.sum(-1) + miss, 1.0)  # diffuse == 1: coverage fractions
    assert ((w > 0) & (w < 1)).any()  # anti-aliased edges
    light = rc.Lighting(direction=(-1, -1, 2), specular=0.2, shininess=8, headlight=0.3)
    trace = rc.trace(cam, shapes, light, supersample=2)
    albedo = np.array([[0.5, 0.5, 0.5], [1, 0, 0], [1, 0, 0]])
    w, spec, miss = trace.weights([0, 1, 1])
    bg = np.array([0.1, 0.2, 0.3])
    expected = w @ albedo[:2] + spec[..., None] + miss[..., None] * bg
    np.testing.assert_allclose(trace.colour(albedo, bg), expected)


def test_trace_is_deterministic():
    cam = rc.Camera(width=16, height=16)
    shapes = [rc.Plane((0, 0, 0), (0, 0, 1)), rc.Capsule((0, 0, 0.5), (0, 0, 1.5), 0.5)]
    light = rc.Lighting(shadow_softness=3, shadow_samples=5)
    a, b = rc.trace(cam, shapes, light), rc.trace(cam, shapes, light)
    np.testing.assert_array_equal(a.diffuse, b.diffuse)
    np.testing.assert_array_equal(a.label, b.label)


def test_trace_lightings_shades_one_geometry_like_separate_traces():
    cam = rc.Camera(width=12, height=12, elevation=30)
    shapes = [rc.Plane((0, 0, 0), (0, 0, 1)), rc.Box((0, 0, 0.5), (0.5, 0.5, 0.5))]
    lights = [rc.Lighting(direction=(1, 0, 1), specular=0.3), rc.Lighting(direction=(0, -1, 1))]
    for together, light in zip(rc.trace_lightings(cam, shapes, lights, supersample=2), lights):
        alone = rc.trace(cam, shapes, light, supersample=2)
        for field in ("label", "depth", "diffuse", "specular"):
            np.testing.assert_array_equal(getattr(together, field), getattr(alone, field))
    a, b = rc.trace_lightings(cam, shapes, lights)
    assert (a.diffuse != b.diffuse).any()  # the lightings differ


def test_hits_take_selects_rays_and_their_points():
    o = np.zeros((3, 4))
    d = rc._columns(rc.normalize(np.array([[0, 1, 0], [1, 0, 0], [0, -1, 0], [0, 1, 0.1]])))
    hits = rc.Hits.cast(o, d, [rc.Sphere((0, 3, 0), 1)])
    assert hits.label.tolist() == [0, rc.MISS, rc.MISS, 0]
    sub = hits.take(np.array([3, 1]))
    assert sub.label.tolist() == [0, rc.MISS]
    np.testing.assert_array_equal(sub.p, hits.p[:, 1:])  # the point of ray 3
    np.testing.assert_allclose(hits.p[:, 0], [0, 2, 0])
    spread = sub.spread(np.array([1, 4]), 6)  # as rays 1 and 4 of six
    assert spread.label.tolist() == [rc.MISS, 0, rc.MISS, rc.MISS, rc.MISS, rc.MISS]
    assert spread.depth[1] == sub.depth[0] and np.isinf(spread.depth[4])
    np.testing.assert_array_equal(spread.take(np.array([1])).p, sub.p)
