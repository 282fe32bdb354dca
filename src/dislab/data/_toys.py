"""Toy objects made of ray-casting primitives, for the Cars3D and SmallNORB substitutes.

Every builder takes a ``numpy.random.Generator`` that fixes the object's proportions (seed it
from the object id for a deterministic object) and returns a :class:`Toy`: primitives of
:mod:`dislab.data._raycast` standing on the ground ``z = 0``, about 2 units long, with one RGB
albedo per primitive. :func:`render_views` shades many (toy, camera) views in one vectorised
call: views whose toys are built alike (same kinds of primitives) are cast together, each
primitive becoming one :class:`Stacked` shape with per-ray parameters that tests only the rays
meeting its bounding sphere (most rays miss most primitives).
"""

from __future__ import annotations

import colorsys
import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dislab.data._raycast import (
    MISS,
    Box,
    Camera,
    Capsule,
    Cylinder,
    Hits,
    Lighting,
    Shape,
    Sphere,
    _columns,
    _ray_sphere,
    rotation_z,
)

TYRE = (0.06, 0.06, 0.06)
GLASS = (0.12, 0.15, 0.2)


@dataclass(frozen=True)
class Toy:
    """Primitives and their RGB albedos (``albedo[i]`` belongs to ``shapes[i]``)."""

    shapes: tuple[Shape, ...]
    albedo: tuple[tuple[float, float, float], ...]

    @staticmethod
    def of(*parts: tuple[Shape, tuple[float, float, float]]) -> Toy:
        return Toy(tuple(p[0] for p in parts), tuple(tuple(map(float, p[1])) for p in parts))

    def grey(self) -> Toy:
        """The same toy with each albedo replaced by its luma ``0.299 R + 0.587 G + 0.114 B``."""
        luma = [float(np.dot(a, (0.299, 0.587, 0.114))) for a in self.albedo]
        return Toy(self.shapes, tuple((v, v, v) for v in luma))

    @functools.cached_property
    def by_colour(self) -> Toy:
        """The same toy, parts sorted (stably) by the first appearance of their albedo; this
        order decides exact ties between parts, as the colour groups did before."""
        colours = list(dict.fromkeys(self.albedo))
        order = sorted(range(len(self.shapes)), key=lambda i: colours.index(self.albedo[i]))
        return Toy(tuple(self.shapes[i] for i in order), tuple(self.albedo[i] for i in order))

    @functools.cached_property
    def bounds(self) -> tuple[tuple[float, float, float], float]:
        """Centre and radius of a sphere holding every part's bounding sphere."""
        centres, radii = zip(*(bounding_sphere(p) for p in self.shapes))
        centres, radii = np.array(centres), np.array(radii)
        low, high = (centres - radii[:, None]).min(0), (centres + radii[:, None]).max(0)
        centre = (low + high) / 2
        radius = np.max(np.linalg.norm(centres - centre, axis=1) + radii)
        return tuple(map(float, centre)), float(radius) * (1 + 1e-6)

    @functools.cached_property
    def kinds(self) -> tuple:
        """The kind of each part in :attr:`by_colour` order (boxes: and whether turned);
        toys of equal kinds are ray-cast together."""
        return tuple((type(s), getattr(s, "rotation", None) is None) for s in self.by_colour.shapes)


@dataclass(frozen=True)
class Stacked:
    """One primitive kind, one instance per view, cast against the rays of many views.

    ``params[name]`` holds the instances' parameters with the view axis last (points
    ``[3, V]``, radii ``[V]``, rotations ``[3, 3, V]``); ray ``r`` belongs to view ``view[r]``.
    A ray is tested against its view's primitive only if it meets that primitive's bounding
    sphere ``|x - centre| <= radius`` (most rays miss most primitives).
    """

    kind: type
    params: dict
    centre: np.ndarray
    radius: np.ndarray
    view: np.ndarray
    casts_shadow: bool = True

    @staticmethod
    def of(parts: Sequence[Shape], view: np.ndarray) -> Stacked:
        """The primitives ``parts`` (one kind, one per view) for rays of views ``view``."""
        names = [f.name for f in dataclasses.fields(parts[0]) if f.name != "casts_shadow"]
        params = {
            name: np.moveaxis(np.asarray(values, dtype=np.float64), 0, -1)
            for name in names
            if (values := [getattr(p, name) for p in parts])[0] is not None
        }
        centres, radii = zip(*(bounding_sphere(p) for p in parts))
        centre = np.asarray(centres, dtype=np.float64).T
        radius = np.asarray(radii) * (1 + 1e-6)
        return Stacked(type(parts[0]), params, centre, radius, view, parts[0].casts_shadow)

    def take(self, rays: np.ndarray) -> Stacked:
        return dataclasses.replace(self, view=self.view[rays])

    def hit(self, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest hits of rays ``[3, N]`` (see :mod:`dislab.data._raycast`)."""
        t = np.full(d.shape[1], np.inf)
        normal = np.zeros(d.shape)
        near, t_near, n_near = self.near_hits(o, d)
        t[near], normal[:, near] = t_near, n_near
        return t, normal

    def near_hits(self, o: np.ndarray, d: np.ndarray):
        """``(rays, t, n)`` for the rays meeting the bounding sphere (the others miss)."""
        view = self.view
        oc = o - self.centre[:, view]
        near = np.flatnonzero(np.isfinite(_ray_sphere(oc, d, self.radius[view])))
        view = view[near]
        shape = self.kind(**{name: v[..., view] for name, v in self.params.items()})
        return (near, *shape.hit(o[:, near], d[:, near]))


def bounding_sphere(shape: Shape) -> tuple[tuple[float, float, float], float]:
    """Centre and radius of a sphere holding a box, sphere, cylinder or capsule."""
    if isinstance(shape, Box):
        return tuple(shape.center), float(np.linalg.norm(shape.half_size))
    if isinstance(shape, Sphere):
        return tuple(shape.center), float(shape.radius)
    if isinstance(shape, Cylinder | Capsule):
        p0, p1 = np.asarray(shape.p0, float), np.asarray(shape.p1, float)
        return tuple((p0 + p1) / 2), float(np.linalg.norm(p1 - p0) / 2 + shape.radius)
    raise TypeError(f"no bounding sphere for {type(shape).__name__}")


def render(
    toy: Toy, camera: Camera, lighting: Lighting, background: tuple[float, float, float]
) -> np.ndarray:
    """uint8 RGB ``[H, W, 3]`` image of ``toy`` (shading clipped to [0, 1], then x255)."""
    return render_views([(toy, camera)], [(0, lighting)], background)[0]


def render_views(
    views: Sequence[tuple[Toy, Camera]],
    shots: Sequence[tuple[int, Lighting]],
    background: tuple[float, float, float],
    chunk: int = 16,
) -> np.ndarray:
    """uint8 RGB ``[len(shots), H, W, 3]``: image ``k`` shows view ``views[shots[k][0]]`` (a toy
    and a camera, all cameras of one size) under lighting ``shots[k][1]``.

    Each view is ray-cast once (up to ``chunk`` views of alike toys per vectorised call) and
    shaded once per lighting that its shots use. Pixel ``= diffuse * albedo + specular`` where a
    part is hit, else the background (see :mod:`dislab.data._raycast`), clipped to [0, 1] and
    rounded to ``round(255 x)``; the same image as :func:`dislab.data._raycast.trace` of the toy.
    """
    height, width = views[0][1].height, views[0][1].width
    out = np.empty((len(shots), height, width, 3), dtype=np.uint8)
    shots_of = [[] for _ in views]  # the shots (index, lighting) of each view
    for k, (v, lighting) in enumerate(shots):
        shots_of[v].append((k, lighting))
    alike: dict[tuple, list[int]] = {}
    for v, (toy, _) in enumerate(views):
        alike.setdefault(toy.kinds, []).append(v)
    for members in alike.values():
        for start in range(0, len(members), chunk):
            batch = members[start : start + chunk]
            shaded = [(k, i, light) for i, v in enumerate(batch) for k, light in shots_of[v]]
            _render_alike([views[v] for v in batch], shaded, background, out)
    return out


def _render_alike(views, shots, background, out) -> None:
    """Render into ``out[k]`` each shot ``(k, i, lighting)`` of ``views[i]`` (alike toys)."""
    rays = views[0][1].height * views[0][1].width
    toys = [toy.by_colour for toy, _ in views]
    origins = np.repeat(np.array([camera.eye for _, camera in views]).T, rays, axis=1)
    directions = np.concatenate([_directions(camera) for _, camera in views], axis=1)
    # only rays meeting the toy's bounding sphere can hit it
    centres, radii = (np.array(v) for v in zip(*(toy.bounds for toy in toys)))
    view = np.repeat(np.arange(len(views)), rays)
    near = np.flatnonzero(
        np.isfinite(_ray_sphere(origins - centres.T[:, view], directions, radii[view]))
    )
    parts = [
        Stacked.of([toy.shapes[j] for toy in toys], view[near]) for j in range(len(toys[0].shapes))
    ]
    hits = Hits.cast(origins[:, near], directions[:, near], parts).spread(near, len(view))
    albedo = np.array([toy.albedo for toy in toys])  # [views, parts, 3]
    for lighting in dict.fromkeys(light for _, _, light in shots):
        these = np.array([(k, i) for k, i, light in shots if light == lighting])
        owner = np.repeat(these[:, 1], rays)  # the view of each ray of these shots
        sub = hits.take(owner * rays + np.tile(np.arange(rays), len(these)))
        diffuse, specular = sub.shade(lighting)
        colour = np.where(
            (sub.label != MISS)[:, None],
            diffuse[:, None] * albedo[owner, np.maximum(sub.label, 0)] + specular[:, None],
            np.asarray(background, dtype=np.float64),
        )
        image = np.round(np.clip(colour, 0.0, 1.0) * 255.0).astype(np.uint8)
        out[these[:, 0]] = image.reshape(len(these), *out.shape[1:])


@functools.lru_cache(maxsize=512)
def _directions(camera: Camera) -> np.ndarray:
    """The camera's unit ray directions ``[3, H*W]`` (read-only; a grid has few cameras)."""
    directions = _columns(camera.rays()[1])
    directions.setflags(write=False)
    return directions


def axle(x: float, half_track: float, radius: float) -> Cylinder:
    """Two wheels as one cylinder across the vehicle; the body hides its middle."""
    return Cylinder((x, -half_track, radius), (x, half_track, radius), radius)


def car(rng: np.random.Generator, paint: tuple[float, float, float]) -> Toy:
    """A car along ``x``: body box, cabin box (sedan, hatchback, van or pickup style), two axles.

    Length 1.6-2.1, width 0.38-0.48 of the length; the style is drawn from ``rng``.
    """
    length = rng.uniform(1.6, 2.1)
    width = length * rng.uniform(0.38, 0.48)
    wheel = length * rng.uniform(0.075, 0.1)
    bottom = wheel * rng.uniform(0.5, 0.9)
    body_h = length * rng.uniform(0.1, 0.16)
    style = rng.integers(4)
    # cabin length (fraction of the body) and centre offset (fraction, + = front)
    cabin_len, cabin_at, cabin_h = {
        0: (rng.uniform(0.4, 0.55), rng.uniform(-0.12, 0.02), rng.uniform(0.1, 0.14)),
        1: (rng.uniform(0.45, 0.55), rng.uniform(-0.25, -0.2), rng.uniform(0.1, 0.14)),
        2: (rng.uniform(0.7, 0.8), rng.uniform(-0.12, -0.08), rng.uniform(0.15, 0.22)),
        3: (rng.uniform(0.3, 0.38), rng.uniform(0.1, 0.2), rng.uniform(0.12, 0.16)),
    }[int(style)]
    top = bottom + body_h
    cabin_w = width * rng.uniform(0.82, 0.94)
    wheelbase = length * rng.uniform(0.28, 0.34)
    return Toy.of(
        (Box((0, 0, bottom + body_h / 2), (length / 2, width / 2, body_h / 2)), paint),
        (
            Box(
                (cabin_at * length, 0, top + cabin_h * length / 2),
                (cabin_len * length / 2, cabin_w / 2, cabin_h * length / 2),
            ),
            GLASS if style != 2 else paint,
        ),
        (axle(wheelbase, width / 2 + 0.01, wheel), TYRE),
        (axle(-wheelbase, width / 2 + 0.01, wheel), TYRE),
    )


def truck(rng: np.random.Generator, paint: tuple[float, float, float]) -> Toy:
    """A truck along ``x``: cab, taller cargo box behind it, two or three axles."""
    length = rng.uniform(1.8, 2.2)
    width = rng.uniform(0.55, 0.7)
    wheel = rng.uniform(0.14, 0.18)
    cab_len = length * rng.uniform(0.22, 0.3)
    cargo_len = length - cab_len - 0.04
    cab_h, cargo_h = rng.uniform(0.45, 0.6), rng.uniform(0.55, 0.8)
    bottom = wheel * 0.8
    front = length / 2
    parts = [
        (
            Box((front - cab_len / 2, 0, bottom + cab_h / 2), (cab_len / 2, width / 2, cab_h / 2)),
            paint,
        ),
        (
            Box(
                (-front + cargo_len / 2, 0, bottom + cargo_h / 2),
                (cargo_len / 2, width / 2 * 1.02, cargo_h / 2),
            ),
            (0.75, 0.75, 0.72),
        ),
        (axle(front - cab_len / 2, width / 2 + 0.01, wheel), TYRE),
    ]
    for k in range(int(rng.integers(1, 3))):
        parts.append((axle(-front + 0.3 + 0.38 * k, width / 2 + 0.01, wheel), TYRE))
    return Toy.of(*parts)


def animal(rng: np.random.Generator, paint: tuple[float, float, float]) -> Toy:
    """A quadruped along ``x``: capsule body, four legs, neck, head sphere and tail."""
    body_len = rng.uniform(0.9, 1.4)
    body_r = rng.uniform(0.18, 0.3)
    leg_len = rng.uniform(0.3, 0.6)
    leg_r = rng.uniform(0.05, 0.09)
    head_r = rng.uniform(0.15, 0.24)
    neck_rise = rng.uniform(0.05, 0.45)
    height = leg_len + body_r * 0.6
    half, side = body_len / 2, body_r * 0.6
    legs = [
        (Capsule((x, y, leg_r), (x, y, height), leg_r), paint)
        for x in (half * 0.8, -half * 0.8)
        for y in (side, -side)
    ]
    head = (half + 0.2, 0.0, height + neck_rise + head_r * 0.5)
    return Toy.of(
        (Capsule((-half, 0, height), (half, 0, height), body_r), paint),
        *legs,
        (Capsule((half, 0, height), head, rng.uniform(0.07, 0.12)), paint),
        (Sphere(head, head_r), paint),
        (
            Capsule((-half, 0, height), (-half - 0.3, 0, height + rng.uniform(-0.2, 0.3)), 0.04),
            paint,
        ),
    )


def human(rng: np.random.Generator, paint: tuple[float, float, float]) -> Toy:
    """A standing figure: two legs, torso, head and two arms raised by an instance angle."""
    leg_len = rng.uniform(0.7, 0.95)
    torso_len = rng.uniform(0.5, 0.7)
    width = rng.uniform(0.18, 0.26)
    limb = rng.uniform(0.06, 0.09)
    arm_len = rng.uniform(0.55, 0.75)
    raise_angle = np.radians(rng.uniform(10, 80))
    hip, shoulder = leg_len, leg_len + torso_len
    arm_dy, arm_dz = np.sin(raise_angle) * arm_len, -np.cos(raise_angle) * arm_len
    head_r = rng.uniform(0.13, 0.18)
    return Toy.of(
        (Capsule((0, width / 2, limb), (0, width / 2, hip), limb), paint),
        (Capsule((0, -width / 2, limb), (0, -width / 2, hip), limb), paint),
        (Capsule((0, 0, hip), (0, 0, shoulder), width * 0.9), paint),
        (Sphere((0, 0, shoulder + head_r * 1.15), head_r), paint),
        (Capsule((0, width, shoulder), (0, width + arm_dy, shoulder + arm_dz), limb), paint),
        (Capsule((0, -width, shoulder), (0, -width - arm_dy, shoulder + arm_dz), limb), paint),
    )


def airplane(rng: np.random.Generator, paint: tuple[float, float, float]) -> Toy:
    """An airliner/fighter along ``x``: fuselage capsule, two swept wings, fin and tailplane."""
    length = rng.uniform(1.7, 2.2)
    radius = rng.uniform(0.1, 0.16)
    span = rng.uniform(0.7, 1.0)
    chord = rng.uniform(0.25, 0.45)
    sweep = rng.uniform(0, 35)
    z = radius + rng.uniform(0.15, 0.3)
    wing_x = rng.uniform(-0.1, 0.15)
    tail_x = -length / 2 + 0.12

    def wing(sign: int) -> Box:
        centre = (wing_x - np.tan(np.radians(sweep)) * span / 2, sign * span / 2, z)
        return Box(centre, (chord / 2, span / 2, 0.025), rotation_z(sign * sweep))

    return Toy.of(
        (Capsule((-length / 2 + radius, 0, z), (length / 2 - radius, 0, z), radius), paint),
        (wing(1), paint),
        (wing(-1), paint),
        (Box((tail_x, 0, z + 0.22), (0.14, 0.02, 0.2)), paint),
        (Box((tail_x, 0, z + 0.05), (0.12, 0.35, 0.02)), paint),
    )


def paint_colour(hue: float, saturation: float, value: float) -> tuple[float, float, float]:
    """RGB albedo of an HSV colour (all in [0, 1])."""
    return colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
