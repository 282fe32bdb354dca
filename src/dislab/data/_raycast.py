"""A small vectorised numpy ray caster for procedural look-alike datasets.

World coordinates are right-handed with ``z`` up. A scene is a sequence of shapes
(:class:`Plane`, :class:`Box`, :class:`Sphere`, :class:`Cylinder`, :class:`Capsule`); each
shape's position in that sequence is its *label*. Rendering happens in two steps so that
colours can be chosen after the (expensive) geometry:

1. :func:`trace` casts one ray per sub-pixel from a :class:`Camera`, finds the nearest hit,
   and shades it with a :class:`Lighting` (ambient + Lambert + optional headlight + Blinn-Phong
   specular, hard or soft shadows from one directional light). It returns a :class:`Trace`:
   per sub-pixel label, diffuse factor and specular term.
2. :meth:`Trace.colour` turns albedos into an image. Because the shading is linear in the
   albedo, :meth:`Trace.weights` can also precompute, per pixel, one weight per *group* of
   labels; an image is then ``weights @ group_colours + constant`` (see :meth:`Trace.colour`).

Rays are processed as ``[3, N]`` arrays (one contiguous row per coordinate), with a per-ray
origin, so rays of many cameras can be cast in one call: :meth:`Hits.cast` casts any rays,
:meth:`Hits.take` selects some of them and :meth:`Hits.shade` shades them under one lighting,
so one geometry serves several lightings (:func:`trace_lightings`). Shapes may carry per-ray
parameters (see :meth:`_Shape.take`, :class:`dislab.data._toys.Stacked`), so that rays of
different scenes built alike are cast together.

Shading of a hit point ``p`` with unit normal ``n`` (facing the ray), unit direction to the
light ``l``, unit direction to the eye ``v``, half vector ``h = (l + v)/|l + v|`` and light
visibility ``s`` in [0, 1] (fraction of unoccluded shadow rays)::

    diffuse  = ambient + headlight * max(n.v, 0) + intensity * s * max(n.l, 0)
    specular = specular * s * max(n.l, 0) * max(n.h, 0) ** shininess
    colour   = albedo * diffuse + specular                     (white highlight)

Example::

    cam = Camera(target=(0, 0, 0.5), distance=6, azimuth=20, elevation=15, fov=40)
    scene = [Plane((0, 0, 0), (0, 0, 1)), Sphere((0, 0, 0.5), 0.5)]
    image = trace(cam, scene, Lighting(direction=(-1, -1, 2))).colour(
        [(0.8, 0.8, 0.8), (1.0, 0.2, 0.1)], background=(0.6, 0.85, 1.0))
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

EPS = 1e-6
"""Smallest accepted ray distance; shadow rays start this far (scaled) off the surface."""

MISS = -1
"""Label of a ray that hits no shape (background)."""


def normalize(v: np.ndarray) -> np.ndarray:
    """``v / |v|`` along the last axis."""
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def rotation_z(degrees: float) -> np.ndarray:
    """3x3 matrix of a counter-clockwise rotation about ``+z`` (seen from above)."""
    a = math.radians(degrees)
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _vec(x) -> np.ndarray:
    v = np.asarray(x, dtype=np.float64)
    if v.shape != (3,):
        raise ValueError(f"expected a 3-vector, got shape {v.shape}")
    return v


# -- camera --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Camera:
    """A camera looking at ``target`` from ``distance`` at ``azimuth``/``elevation`` (degrees).

    The eye is ``target + R_z(azimuth) @ (0, -distance*cos(elev), distance*sin(elev))``: at
    azimuth 0 the camera stands on the ``-y`` side looking towards ``+y``; positive azimuth
    turns it counter-clockwise about the vertical axis through the target. Image rows go
    down, columns go right; rays pass through pixel centres (or a regular sub-pixel grid).

    ``fov`` is the vertical field of view of the pinhole in degrees. With ``ortho_height`` set,
    the projection is orthographic instead: parallel rays along the viewing direction, the
    image spanning ``ortho_height`` world units vertically (``fov`` is then ignored).
    """

    target: Sequence[float] = (0.0, 0.0, 0.0)
    distance: float = 5.0
    azimuth: float = 0.0
    elevation: float = 20.0
    fov: float = 45.0
    width: int = 64
    height: int = 64
    ortho_height: float | None = None

    @property
    def eye(self) -> np.ndarray:
        el = math.radians(self.elevation)
        offset = np.array([0.0, -math.cos(el), math.sin(el)]) * self.distance
        return _vec(self.target) + rotation_z(self.azimuth) @ offset

    def basis(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unit ``(forward, right, up)`` vectors of the view.

        ``right = R_z(azimuth) @ (1, 0, 0)`` stays horizontal (no roll), so straight-down
        views (elevation 90) work too; ``up = right x forward``.
        """
        forward = normalize(_vec(self.target) - self.eye)
        right = rotation_z(self.azimuth) @ np.array([1.0, 0.0, 0.0])
        return forward, right, np.cross(right, forward)

    def rays(self, supersample: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Ray origins and unit directions, each ``[height, width, s*s, 3]`` (``s=supersample``).

        Sub-pixel ``k = a*s + b`` sits at ``((row + (a + .5)/s), (col + (b + .5)/s))``.
        """
        s = int(supersample)
        if s < 1:
            raise ValueError(f"supersample must be >= 1, got {supersample}")
        forward, right, up = self.basis()
        sub = (np.arange(s) + 0.5) / s
        rows = np.arange(self.height)[:, None, None, None] + sub[:, None]  # [H, 1, s, 1]
        cols = np.arange(self.width)[:, None, None] + sub  # [W, 1, s]
        # image-plane coordinates: y in [-1, 1] upwards, x scaled by the aspect ratio
        y, x = np.broadcast_arrays(
            1.0 - 2.0 * rows / self.height,
            (2.0 * cols / self.width - 1.0) * (self.width / self.height),
        )
        y = y.reshape(self.height, self.width, s * s, 1)
        x = x.reshape(self.height, self.width, s * s, 1)
        if self.ortho_height is None:
            half = math.tan(math.radians(self.fov) / 2.0)
            directions = normalize(forward + half * (x * right + y * up))
            origins = np.broadcast_to(self.eye, directions.shape)
        else:
            half = self.ortho_height / 2.0
            origins = self.eye + half * (x * right + y * up)
            directions = np.broadcast_to(forward, origins.shape)
        return origins, directions


# -- shapes ---------------------------------------------------------------------------------
# Rays are held "structure of arrays": origins ``O`` and unit directions ``D`` of shape [3, N]
# (rows x, y, z), so that every numpy operation runs over N contiguous values. Every shape has
# ``hit(O, D) -> (t, n)``: ``t`` [N] is the nearest distance > EPS (``inf`` on a miss) and ``n``
# [3, N] the unit outward normal there (undefined where ``t`` is inf); ``intersect(o, d)`` is
# the same for rays given as rows ``[N, 3]`` (normals ``[N, 3]``). ``casts_shadow`` says
# whether the shape blocks shadow rays.


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dot product over the first axis of ``[3, ...]`` arrays, ``(a0 b0 + a2 b2) + a1 b1``."""
    return (a[0] * b[0] + a[2] * b[2]) + a[1] * b[1]


def _norm(v: np.ndarray) -> np.ndarray:
    """Euclidean length over the first axis, ``sqrt((v0^2 + v1^2) + v2^2)``."""
    return np.sqrt((v[0] * v[0] + v[1] * v[1]) + v[2] * v[2])


def _columns(x) -> np.ndarray:
    """Rays given as rows ``[N, 3]`` -> contiguous ``[3, N]``."""
    return np.ascontiguousarray(np.asarray(x, dtype=np.float64).reshape(-1, 3).T)


def _unit(v: np.ndarray) -> np.ndarray:
    """``v / |v|`` over the first axis."""
    return v / _norm(v)


class _Shape:
    def intersect(self, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest hits of rays given as rows: ``o``, ``d`` ``[N, 3]`` -> ``t``, ``n`` [N, 3]."""
        t, n = self.hit(_columns(o), _columns(d))
        return t, n.T

    def near_hits(self, o: np.ndarray, d: np.ndarray):
        """``(rays, t, n)``: hits of the rays ``[3, N]`` that may meet the shape (indices
        ``rays``; all of them here); the others miss."""
        t, n = self.hit(o, d)
        return np.arange(d.shape[1]), t, n

    def take(self, rays: np.ndarray) -> _Shape:
        """The shape for the subset ``rays`` of the rays: itself, as its parameters are shared
        by every ray (a shape with per-ray parameters selects theirs)."""
        return self


def _col(v) -> np.ndarray:
    """A point or vector as a column ``[3, 1]``; per-ray parameters ``[3, N]`` pass unchanged."""
    v = np.asarray(v, dtype=np.float64)
    return v if v.ndim == 2 and v.shape[0] == 3 else _vec(v)[:, None]


@dataclass(frozen=True)
class Plane(_Shape):
    """The infinite plane through ``point`` with normal ``normal``: ``(x - point).normal = 0``.

    Ray distance ``t = (point - o).n / (d.n)``. Like every shape here, its points and vectors
    may also be per-ray arrays ``[3, N]`` (lengths ``[N]``) for rays ``[3, N]`` in ``hit``.
    """

    point: Sequence[float]
    normal: Sequence[float]
    casts_shadow: bool = True

    def hit(self, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = _unit(_col(self.normal))
        denom = _dot(n, d)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = _dot(n, _col(self.point) - o) / denom
        t = np.where(np.isfinite(t) & (t > EPS), t, np.inf)
        return t, np.broadcast_to(n, d.shape)


@dataclass(frozen=True)
class Sphere(_Shape):
    """The ball ``|x - center| <= radius``; ``t`` solves ``|o + t d - c|^2 = r^2``."""

    center: Sequence[float]
    radius: float
    casts_shadow: bool = True

    def hit(self, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = _col(self.center)
        t = _ray_sphere(o - c, d, self.radius)
        with np.errstate(invalid="ignore"):
            n = (o + t * d - c) / self.radius
        return t, n


@dataclass(frozen=True)
class Box(_Shape):
    """An oriented box: ``center``, ``half_size`` along its own axes, turned by ``rotation``.

    ``rotation`` is a 3x3 matrix whose columns are the box axes in world coordinates (default:
    axis-aligned); :func:`rotation_z` gives a box turned about the vertical (per-ray rotations
    are ``[3, 3, N]``). Intersection uses the slab method in box coordinates.
    """

    center: Sequence[float]
    half_size: Sequence[float]
    rotation: np.ndarray | None = None
    casts_shadow: bool = True

    def hit(self, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        half = _col(self.half_size)
        lo, ld = o - _col(self.center), d  # box coordinates: rot.T @ (o - c), rot.T @ d
        if self.rotation is not None:
            rot = np.asarray(self.rotation, dtype=np.float64)
            lo, ld = _rotate(rot, lo, inverse=True), _rotate(rot, ld, inverse=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / ld
            t1 = (-half - lo) * inv
            t2 = (half - lo) * inv
        # fmin/fmax skip the nan of a ray lying exactly in a face's plane (counted as a miss)
        near, far = np.fmin(t1, t2), np.fmax(t1, t2)
        t_near = np.maximum(np.maximum(near[0], near[1]), near[2])
        t_far = np.minimum(np.minimum(far[0], far[1]), far[2])
        hit = t_near <= t_far
        front = hit & (t_near > EPS)
        back = hit & ~front & (t_far > EPS)  # origin inside the box: leave through the far face
        t = np.where(front, t_near, np.where(back, t_far, np.inf))
        face = np.where(front, near == t_near, far == t_far)  # [3, N]: the axis of the face hit
        local = np.where(face, np.where(front, -np.sign(ld), np.sign(ld)), 0.0)
        local /= np.maximum(_norm(local), 1.0)  # edges: two faces at once
        return t, local if self.rotation is None else _rotate(rot, local)


@dataclass(frozen=True)
class Cylinder(_Shape):
    """A solid capped cylinder of ``radius`` around the segment ``p0 -> p1``."""

    p0: Sequence[float]
    p1: Sequence[float]
    radius: float
    casts_shadow: bool = True

    def hit(self, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p0, p1 = _col(self.p0), _col(self.p1)
        t, n = _ray_tube(o, d, p0, p1, self.radius)
        axis = _unit(p1 - p0)
        for centre, normal in ((p0, -axis), (p1, axis)):
            tc = _ray_disc(o, d, centre, normal, self.radius)
            closer = tc < t
            t = np.where(closer, tc, t)
            n = np.where(closer, normal, n)
        return t, n


@dataclass(frozen=True)
class Capsule(_Shape):
    """All points within ``radius`` of the segment ``p0 -> p1`` (a tube with two half balls)."""

    p0: Sequence[float]
    p1: Sequence[float]
    radius: float
    casts_shadow: bool = True

    def hit(self, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p0, p1 = _col(self.p0), _col(self.p1)
        t, n = _ray_tube(o, d, p0, p1, self.radius)
        for centre in (p0, p1):
            ts = _ray_sphere(o - centre, d, self.radius)
            closer = ts < t
            t = np.where(closer, ts, t)
            with np.errstate(invalid="ignore"):
                ns = (o + ts * d - centre) / self.radius
            n = np.where(closer, ns, n)
        return t, n


Shape = Plane | Sphere | Box | Cylinder | Capsule


def _rotate(rot: np.ndarray, v: np.ndarray, inverse: bool = False) -> np.ndarray:
    """``rot @ v`` (``rot.T @ v`` if ``inverse``) for ``v`` ``[3, N]``; ``rot`` is ``[3, 3]`` or
    one matrix per ray ``[3, 3, N]``."""
    if rot.ndim == 2:
        return (rot.T if inverse else rot) @ v
    return np.einsum("jin,jn->in" if inverse else "ijn,jn->in", rot, v)


def _ray_sphere(oc: np.ndarray, d: np.ndarray, radius: float) -> np.ndarray:
    """Nearest ``t > EPS`` with ``|oc + t d| = radius`` (``d`` unit; both ``[3, N]``), else inf."""
    b = _dot(oc, d)
    disc = b * b - (_dot(oc, oc) - radius * radius)
    root = np.sqrt(np.maximum(disc, 0.0))
    t0, t1 = -b - root, -b + root
    t = np.where(t0 > EPS, t0, np.where(t1 > EPS, t1, np.inf))
    return np.where(disc >= 0.0, t, np.inf)


def _ray_tube(o, d, p0, p1, radius) -> tuple[np.ndarray, np.ndarray]:
    """Open tube (no caps) of ``radius`` around the segment ``p0 -> p1``.

    With unit axis ``a``, ``w = o - p0`` and the parts perpendicular to ``a`` (``w_, d_``):
    ``|w_ + t d_|^2 = r^2``; a root counts if its axial coordinate lies in ``[0, |p1 - p0|]``.
    """
    length = _norm(p1 - p0)
    a = (p1 - p0) / length
    w = o - p0
    da, wa = _dot(a, d), _dot(a, w)
    dp = d - da * a
    wp = w - wa * a
    qa = _dot(dp, dp)
    qb = _dot(wp, dp)
    qc = _dot(wp, wp) - radius * radius
    disc = qb * qb - qa * qc
    root = np.sqrt(np.maximum(disc, 0.0))
    t = np.full(d.shape[1], np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        for cand in ((-qb + root) / qa, (-qb - root) / qa):  # far first, near overrides
            s = wa + cand * da
            ok = (disc >= 0) & (qa > EPS) & (cand > EPS) & (s >= 0) & (s <= length)
            t = np.where(ok & (cand < t), cand, t)
    with np.errstate(invalid="ignore"):
        radial = wp + t * dp
    return t, radial / radius


def _ray_disc(o, d, centre, normal, radius) -> np.ndarray:
    """Distance to the disc of ``radius`` at ``centre`` in the plane with ``normal``."""
    t, _ = Plane(centre, normal).hit(o, d)
    with np.errstate(invalid="ignore"):
        inside = _norm(o + t * d - centre) <= radius
    return np.where(inside, t, np.inf)


def cast(
    origins: np.ndarray, directions: np.ndarray, shapes: Sequence[Shape]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest hit of each ray ``[N, 3]`` among ``shapes``: ``(t, normal, label)``.

    ``origins`` may also be one point ``[3]`` shared by all rays.
    ``label`` is the index of the shape hit (``MISS`` = -1 if none, then ``t`` is inf).
    """
    d = _columns(directions)
    o = _columns(origins)
    t, normal, label = _cast(np.broadcast_to(o, d.shape) if o.shape[1] == 1 else o, d, shapes)
    return t, normal.T, label


def _cast(o: np.ndarray, d: np.ndarray, shapes: Sequence[Shape]):
    """:func:`cast` for rays ``[3, N]``; normals ``[3, N]``."""
    t = np.full(d.shape[1], np.inf)
    normal = np.zeros_like(d)
    label = np.full(d.shape[1], MISS, dtype=np.int64)
    for index, shape in enumerate(shapes):
        rays, ts, ns = shape.near_hits(o, d)
        closer = ts < t[rays]  # strictly: on a tie the earlier shape wins
        nearest = rays[closer]
        t[nearest] = ts[closer]
        normal[:, nearest] = ns[:, closer]
        label[nearest] = index
    return t, normal, label


def occluded(origins: np.ndarray, direction: np.ndarray, shapes: Sequence[Shape]) -> np.ndarray:
    """Boolean ``[N]``: does a ``casts_shadow`` shape block ``origins + t * direction``, t > 0?"""
    return _occluded(_columns(origins), _vec(direction), shapes)


def _occluded(o: np.ndarray, direction: np.ndarray, shapes: Sequence[Shape]) -> np.ndarray:
    """:func:`occluded` for origins ``[3, N]``."""
    blockers = [s for s in shapes if s.casts_shadow]
    blocked = np.zeros(o.shape[1], dtype=bool)
    for shape in blockers:
        todo = np.flatnonzero(~blocked)
        if not todo.size:
            break
        ot = o[:, todo]
        rays, t, _ = shape.take(todo).near_hits(ot, np.broadcast_to(direction[:, None], ot.shape))
        blocked[todo[rays[np.isfinite(t)]]] = True
    return blocked


# -- lighting -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Lighting:
    """One directional light plus ambient, headlight and specular terms (see module doc).

    ``direction`` points from the scene *towards* the light (it need not be unit length).
    ``shadow_softness`` is the light's angular radius in degrees: 0 gives hard shadows; with
    ``shadow_samples > 1`` the visibility is the fraction of shadow rays, spread over that
    cone on a fixed (deterministic) sunflower pattern, that reach the light.
    """

    direction: Sequence[float] = (-1.0, -1.0, 2.0)
    intensity: float = 0.7
    ambient: float = 0.3
    headlight: float = 0.0
    specular: float = 0.0
    shininess: float = 32.0
    shadow_softness: float = 0.0
    shadow_samples: int = 1

    def shadow_directions(self) -> np.ndarray:
        """Unit directions ``[k, 3]`` of the shadow rays (``k = 1`` for hard shadows)."""
        centre = normalize(_vec(self.direction))
        k = int(self.shadow_samples)
        if self.shadow_softness <= 0.0 or k <= 1:
            return centre[None, :]
        helper = np.array([1.0, 0.0, 0.0]) if abs(centre[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        e1 = normalize(np.cross(centre, helper))
        e2 = np.cross(centre, e1)
        i = np.arange(k) + 0.5
        radius = math.tan(math.radians(self.shadow_softness)) * np.sqrt(i / k)
        angle = i * math.pi * (3.0 - math.sqrt(5.0))  # golden angle
        offsets = radius[:, None] * (np.cos(angle)[:, None] * e1 + np.sin(angle)[:, None] * e2)
        return normalize(centre + offsets)


# -- tracing and colouring ------------------------------------------------------------------
@dataclass(frozen=True)
class Trace:
    """Per sub-pixel result of :func:`trace`; arrays are ``[height, width, samples]``.

    ``label``: shape index or ``MISS``; ``depth``: ray distance (inf on a miss);
    ``diffuse``: the factor multiplying the albedo; ``specular``: the additive white term.
    """

    label: np.ndarray
    depth: np.ndarray
    diffuse: np.ndarray
    specular: np.ndarray

    def weights(self, groups: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Precomputed colouring maps for labels merged into groups.

        ``groups[label]`` is the group (``0..G-1``) of each shape. Returns ``(w, spec, miss)``:
        ``w`` ``[H, W, G]`` is the sub-pixel mean of ``diffuse`` over samples of each group,
        ``spec`` ``[H, W]`` the mean specular term and ``miss`` ``[H, W]`` the background
        coverage. The image for group colours ``C`` ``[G, 3]`` and background ``b`` is
        ``w @ C + spec[..., None] + miss[..., None] * b``.
        """
        groups = np.asarray(groups, dtype=np.int64)
        num_groups = int(groups.max()) + 1 if groups.size else 0
        samples = self.label.shape[-1]
        hit = self.label != MISS
        group = np.where(hit, groups[np.where(hit, self.label, 0)], -1)
        w = np.stack(
            [np.where(group == g, self.diffuse, 0.0).sum(-1) for g in range(num_groups)], axis=-1
        )
        return (w / samples, self.specular.mean(-1), (~hit).mean(-1))

    def colour(self, albedo: Sequence[Sequence[float]], background=(0.0, 0.0, 0.0)) -> np.ndarray:
        """RGB image ``[H, W, 3]`` (not clipped) for one albedo per shape and a background."""
        albedo = np.asarray(albedo, dtype=np.float64).reshape(-1, 3)
        w, spec, miss = self.weights(np.arange(len(albedo)))
        return w @ albedo + spec[..., None] + miss[..., None] * np.asarray(background, float)


def trace(
    camera: Camera,
    shapes: Sequence[Shape],
    lighting: Lighting,
    supersample: int = 1,
    gloss: Sequence[float] | None = None,
) -> Trace:
    """Cast the camera's rays into ``shapes`` and shade the hits (see module doc).

    ``supersample`` ``s`` casts ``s*s`` rays per pixel (anti-aliasing). ``gloss`` (one value
    per shape, default all 1) multiplies the specular term of each shape: 0 gives a matte
    surface.
    """
    return trace_lightings(camera, shapes, [lighting], supersample, gloss)[0]


def trace_lightings(
    camera: Camera,
    shapes: Sequence[Shape],
    lightings: Sequence[Lighting],
    supersample: int = 1,
    gloss: Sequence[float] | None = None,
) -> list[Trace]:
    """:func:`trace` under several lightings: the geometry is cast once, then shaded once per
    lighting (only the shadow rays depend on the light). ``result[k]`` equals
    ``trace(camera, shapes, lightings[k], supersample, gloss)``."""
    origins, directions = camera.rays(supersample)
    grid = origins.shape[:-1]
    hits = Hits.cast(_columns(origins), _columns(directions), shapes, gloss)
    traces = []
    for lighting in lightings:
        diffuse, specular = hits.shade(lighting)
        traces.append(
            Trace(
                label=hits.label.reshape(grid),
                depth=hits.depth.reshape(grid),
                diffuse=diffuse.reshape(grid),
                specular=specular.reshape(grid),
            )
        )
    return traces


@dataclass(frozen=True)
class Hits:
    """The nearest hits of ``N`` rays, ready to be shaded under any lighting.

    ``label`` ``[N]``: shape index or ``MISS``; ``depth`` ``[N]``: ray distance. For the ``M``
    rays that hit: points ``p``, normals ``n`` facing the eye, unit directions to the eye
    ``view`` (all ``[3, M]``), the ``gloss`` of the shape hit ``[M]``, and the ``shapes`` as
    seen from those points (for shadow rays; see :meth:`_Shape.take`).
    """

    label: np.ndarray
    depth: np.ndarray
    p: np.ndarray
    n: np.ndarray
    view: np.ndarray
    gloss: np.ndarray
    shapes: tuple

    @staticmethod
    def cast(o: np.ndarray, d: np.ndarray, shapes: Sequence[Shape], gloss=None) -> Hits:
        """Cast rays ``o``, ``d`` ``[3, N]`` into ``shapes`` (``gloss``: one per shape, default
        all 1)."""
        shine = np.ones(len(shapes)) if gloss is None else np.asarray(gloss, dtype=np.float64)
        if shine.shape != (len(shapes),):
            raise ValueError(f"gloss needs one value per shape ({len(shapes)}), got {shine.shape}")
        t, normal, label = _cast(o, d, shapes)
        hit = np.flatnonzero(label != MISS)
        p = o[:, hit] + t[hit] * d[:, hit]
        n = normal[:, hit]
        view = -d[:, hit]
        n = np.where(_dot(n, view) < 0.0, -n, n)  # face the viewer
        points = tuple(s.take(hit) for s in shapes)
        return Hits(label, t, p, n, view, shine[label[hit]], points)

    def spread(self, rays: np.ndarray, count: int) -> Hits:
        """These hits as those of rays ``rays`` (ascending indices) among ``count`` rays; the
        other rays miss."""
        label = np.full(count, MISS, dtype=np.int64)
        depth = np.full(count, np.inf)
        label[rays], depth[rays] = self.label, self.depth
        return dataclasses.replace(self, label=label, depth=depth)

    def take(self, rays: np.ndarray) -> Hits:
        """The hits of the subset ``rays`` (indices) of the rays."""
        point = np.cumsum(self.label != MISS) - 1  # position of each hit among the points
        label = self.label[rays]
        sel = point[rays[label != MISS]]
        return Hits(
            label,
            self.depth[rays],
            self.p[:, sel],
            self.n[:, sel],
            self.view[:, sel],
            self.gloss[sel],
            tuple(s.take(sel) for s in self.shapes),
        )

    def shade(self, lighting: Lighting) -> tuple[np.ndarray, np.ndarray]:
        """``(diffuse, specular)`` ``[N]`` under ``lighting`` (see module doc; 0 on misses)."""
        n, view = self.n, self.view
        light = normalize(_vec(lighting.direction))
        lambert = np.maximum(np.ascontiguousarray(n.T) @ light, 0.0)
        visible = self._visibility(lambert > 0.0, lighting)
        half = light[:, None] + view
        half /= _norm(half)
        glossy = lambert * np.maximum(_dot(n, half), 0.0) ** lighting.shininess
        hit = self.label != MISS
        diffuse = np.zeros(len(hit))
        specular = np.zeros(len(hit))
        diffuse[hit] = (
            lighting.ambient
            + lighting.headlight * np.maximum(_dot(n, view), 0.0)
            + lighting.intensity * visible * lambert
        )
        specular[hit] = lighting.specular * self.gloss * visible * glossy
        return diffuse, specular

    def _visibility(self, lit: np.ndarray, lighting: Lighting) -> np.ndarray:
        """Fraction of shadow rays from the points (only where ``lit``) that reach the light."""
        visible = np.zeros(len(lit))
        lit = np.flatnonzero(lit)
        if not lit.size:
            return visible
        start = self.p[:, lit] + 1e-4 * self.n[:, lit]  # leave the surface: no self-shadowing
        shapes = [s.take(lit) for s in self.shapes]
        directions = lighting.shadow_directions()
        for direction in directions:
            visible[lit] += ~_occluded(start, direction, shapes)
        return visible / len(directions)
