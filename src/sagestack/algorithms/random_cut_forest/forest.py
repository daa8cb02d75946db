"""A batch random cut forest (Guha et al. 2016) over numpy arrays: build and score.

Each tree is built from ``num_samples_per_tree`` points sampled without replacement (SageMaker's
reservoir sample of the whole training set). A node cuts its points' bounding box on a dimension drawn
with probability proportional to that dimension's range, at a value uniform in the range, until one
distinct point is left (a leaf carries the number of duplicates as its mass).

Score (the AWS RCF library's anomaly score, which SageMaker's documentation describes as the expected
change in tree complexity, roughly inverse to the depth the point would get): walking from the root to
the leaf the query falls into, at a node of depth ``d`` the query is separated from the node's points
with probability ``p = (range(box ∪ q) - range(box)) / range(box ∪ q)`` and then scores ``1 / (d + 1)``;
at the leaf it scores ``1 / (d + log2(mass + 1))`` when it equals the leaf's point, else ``1 / (d + 1)``.
Per tree ``s = Σ_i alive_i p_i / (d_i + 1) + alive_leaf · leaf_score`` with ``alive`` the product of
``(1 - p)`` above; the tree score is multiplied by ``log2(num_samples_per_tree)`` and the forest score is
the mean over trees. Typical points score near 1; anomalies score several times higher.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Forest:
    """All trees' nodes in flat arrays; ``roots[t]`` is tree ``t``'s root node."""

    left: np.ndarray  # (nodes,) int32, -1 at leaves
    right: np.ndarray  # (nodes,) int32
    cut_dim: np.ndarray  # (nodes,) int32
    cut_value: np.ndarray  # (nodes,) float64
    depth: np.ndarray  # (nodes,) int32
    mass: np.ndarray  # (nodes,) int32
    box_min: np.ndarray  # (nodes, d) float64
    box_max: np.ndarray  # (nodes, d) float64
    roots: np.ndarray  # (trees,) int32
    sample_size: int

    @property
    def num_trees(self) -> int:
        return int(self.roots.shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "left": self.left,
            "right": self.right,
            "cut_dim": self.cut_dim,
            "cut_value": self.cut_value,
            "depth": self.depth,
            "mass": self.mass,
            "box_min": self.box_min,
            "box_max": self.box_max,
            "roots": self.roots,
            "sample_size": np.asarray([self.sample_size]),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Forest:
        return cls(
            left=arrays["left"].astype(np.int32),
            right=arrays["right"].astype(np.int32),
            cut_dim=arrays["cut_dim"].astype(np.int32),
            cut_value=arrays["cut_value"].astype(np.float64),
            depth=arrays["depth"].astype(np.int32),
            mass=arrays["mass"].astype(np.int32),
            box_min=arrays["box_min"].astype(np.float64),
            box_max=arrays["box_max"].astype(np.float64),
            roots=arrays["roots"].astype(np.int32),
            sample_size=int(arrays["sample_size"][0]),
        )


def merge(forests: list[Forest]) -> Forest:
    """One forest holding every tree of ``forests`` (the hosts of a multi-instance job)."""
    offsets = np.cumsum([0] + [f.left.shape[0] for f in forests[:-1]])

    def shifted(values: np.ndarray, offset: int) -> np.ndarray:
        return np.where(values >= 0, values + offset, values)

    return Forest(
        left=np.concatenate([shifted(f.left, o) for f, o in zip(forests, offsets)]),
        right=np.concatenate([shifted(f.right, o) for f, o in zip(forests, offsets)]),
        cut_dim=np.concatenate([f.cut_dim for f in forests]),
        cut_value=np.concatenate([f.cut_value for f in forests]),
        depth=np.concatenate([f.depth for f in forests]),
        mass=np.concatenate([f.mass for f in forests]),
        box_min=np.concatenate([f.box_min for f in forests]),
        box_max=np.concatenate([f.box_max for f in forests]),
        roots=np.concatenate([f.roots + o for f, o in zip(forests, offsets)]).astype(np.int32),
        sample_size=max(f.sample_size for f in forests),
    )


def sample_rows(n_rows: int, num_trees: int, sample_size: int, rng: np.random.Generator) -> np.ndarray:
    """``(num_trees, min(sample_size, n_rows))`` row indices, each tree's drawn without replacement."""
    size = min(sample_size, n_rows)
    if size == n_rows:
        return np.tile(np.arange(n_rows), (num_trees, 1))
    if num_trees * n_rows <= 1 << 22:  # small: one vectorised draw (random keys, smallest ``size``)
        keys = rng.random((num_trees, n_rows))
        return np.argpartition(keys, size - 1, axis=1)[:, :size]
    return np.stack([rng.choice(n_rows, size=size, replace=False) for _ in range(num_trees)])


def build(samples: list[np.ndarray], rng: np.random.Generator, sample_size: int) -> Forest:
    """A forest with one tree per array in ``samples`` (each ``(m, d)`` float64)."""
    dim = samples[0].shape[1]
    left: list[int] = []
    right: list[int] = []
    cut_dim: list[int] = []
    cut_value: list[float] = []
    depth: list[int] = []
    mass: list[int] = []
    mins: list[np.ndarray] = []
    maxs: list[np.ndarray] = []
    roots = []
    for points in samples:
        roots.append(len(left))
        # a stack of (node id, the node's points, depth); children are appended when their parent is cut
        stack = [(_new_node(left, right, cut_dim, cut_value, depth, mass, mins, maxs, points, 0), points, 0)]
        while stack:
            node, pts, d = stack.pop()
            lo, hi = mins[node], maxs[node]
            ranges = hi - lo
            total = float(ranges.sum())
            if pts.shape[0] <= 1 or total <= 0.0:
                continue  # a leaf (one distinct point, mass = duplicates)
            r = rng.random() * total
            dim_index = int(np.searchsorted(np.cumsum(ranges), r, side="right"))
            dim_index = min(dim_index, dim - 1)
            while ranges[dim_index] <= 0:  # floating-point edge: move to a dimension with a range
                dim_index = (dim_index + 1) % dim
            value = lo[dim_index] + rng.random() * ranges[dim_index]
            value = min(max(value, lo[dim_index]), np.nextafter(hi[dim_index], -np.inf))
            goes_left = pts[:, dim_index] <= value
            lp, rp = pts[goes_left], pts[~goes_left]
            if lp.shape[0] == 0 or rp.shape[0] == 0:  # cannot happen for value in [lo, hi); be safe
                lp, rp = pts[:1], pts[1:]
            cut_dim[node] = dim_index
            cut_value[node] = float(value)
            ln = _new_node(left, right, cut_dim, cut_value, depth, mass, mins, maxs, lp, d + 1)
            rn = _new_node(left, right, cut_dim, cut_value, depth, mass, mins, maxs, rp, d + 1)
            left[node], right[node] = ln, rn
            stack.append((ln, lp, d + 1))
            stack.append((rn, rp, d + 1))
    return Forest(
        left=np.asarray(left, dtype=np.int32),
        right=np.asarray(right, dtype=np.int32),
        cut_dim=np.asarray(cut_dim, dtype=np.int32),
        cut_value=np.asarray(cut_value, dtype=np.float64),
        depth=np.asarray(depth, dtype=np.int32),
        mass=np.asarray(mass, dtype=np.int32),
        box_min=np.asarray(mins, dtype=np.float64).reshape(-1, dim),
        box_max=np.asarray(maxs, dtype=np.float64).reshape(-1, dim),
        roots=np.asarray(roots, dtype=np.int32),
        sample_size=sample_size,
    )


def _new_node(left, right, cut_dim, cut_value, depth, mass, mins, maxs, points: np.ndarray, d: int) -> int:
    left.append(-1)
    right.append(-1)
    cut_dim.append(-1)
    cut_value.append(0.0)
    depth.append(d)
    mass.append(int(points.shape[0]))
    mins.append(points.min(axis=0))
    maxs.append(points.max(axis=0))
    return len(left) - 1


def score(forest: Forest, X: np.ndarray, chunk_rows: int = 4096) -> np.ndarray:
    """The forest's anomaly score of each row of ``X`` (float64 ``(n,)``)."""
    X = np.asarray(X, dtype=np.float64)
    out = np.empty(X.shape[0], dtype=np.float64)
    for start in range(0, X.shape[0], chunk_rows):
        out[start : start + chunk_rows] = _score_chunk(forest, X[start : start + chunk_rows])
    return out


def _score_chunk(forest: Forest, X: np.ndarray) -> np.ndarray:
    n = X.shape[0]
    total = np.zeros(n)
    rows = np.arange(n)
    for root in forest.roots:
        node = np.full(n, root, dtype=np.int64)
        alive = np.ones(n)
        tree_score = np.zeros(n)
        active = rows
        while active.size:
            nodes = node[active]
            q = X[active]
            lo, hi = forest.box_min[nodes], forest.box_max[nodes]
            inner = (hi - lo).sum(axis=1)
            outer = (np.maximum(hi, q) - np.minimum(lo, q)).sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                p = np.where(outer > 0, (outer - inner) / outer, 0.0)
            d = forest.depth[nodes]
            unseen = 1.0 / (d + 1.0)
            leaf = forest.left[nodes] < 0
            if leaf.any():
                li = active[leaf]
                seen = p[leaf] <= 0.0  # inside a zero-volume box: the query equals the leaf's point
                mass = forest.mass[nodes[leaf]]
                leaf_score = np.where(seen, 1.0 / (d[leaf] + np.log2(mass + 1.0)), unseen[leaf])
                # at a leaf the separation term and the leaf term combine as for any node
                tree_score[li] += alive[li] * (p[leaf] * unseen[leaf] + (1 - p[leaf]) * leaf_score)
            inner_nodes = ~leaf
            if not inner_nodes.any():
                break
            ai = active[inner_nodes]
            pi = p[inner_nodes]
            tree_score[ai] += alive[ai] * pi * unseen[inner_nodes]
            alive[ai] *= 1.0 - pi
            ni = nodes[inner_nodes]
            go_left = X[ai, forest.cut_dim[ni]] <= forest.cut_value[ni]
            node[ai] = np.where(go_left, forest.left[ni], forest.right[ni])
            active = ai
        total += tree_score
    return total / forest.num_trees * np.log2(max(forest.sample_size, 2))
