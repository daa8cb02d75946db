"""Spectral LDA (Anandkumar et al., "Tensor decompositions for learning latent variable models",
2014, §4.1): moments of the word counts, whitening, a robust tensor power method with restarts.

With documents as count vectors ``c`` of length ``l = Σc`` and concentration ``α0``:

* ``M1 = E[c/l]``;
* ``M2 = E[(c cᵀ - diag c) / (l(l-1))] - α0/(α0+1) M1 M1ᵀ`` (documents with ``l ≥ 2``);
* ``M3 = E[x1⊗x2⊗x3] - α0/(α0+2) (E[x1⊗x2]⊗M1 + 2 permutations) + 2α0²/((α0+1)(α0+2)) M1⊗M1⊗M1``
  (documents with ``l ≥ 3``), only ever formed whitened, ``T = M3(W, W, W)`` with ``W`` (V × k) such
  that ``Wᵀ M2 W = I``, at ``O(n k³ + V k³)`` cost.
* ``T ≈ Σ λ_i v_i^⊗3``: each component is the best of ``max_restarts`` power iterations
  ``θ ← T(I, θ, θ) / ‖·‖`` (at most ``max_iterations``, stopping when ``θ`` moves less than ``tol``),
  followed by deflation.
* Recovery: ``α_i = α0 (α0+1) (2 / ((α0+2) λ_i))²``, topic ``i`` ∝ ``max(0, (Wᵀ)⁺ v_i) (α0+2) λ_i / 2``.

As SageMaker's LDA does, 25 % more topics than requested are extracted and the ``num_topics`` with the
largest Dirichlet priors are kept.

The moment estimates are unbiased but noisy for realistic corpus sizes, so :func:`refine` then runs a
few passes of batch variational EM (the E-step of :func:`topic_mixtures`, the M-step re-estimating the
topic-word matrix from the expected counts), starting from the spectral topics and keeping the
spectral prior: the decomposition picks the solution, EM sharpens it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

EXTRA_TOPIC_FACTOR = 1.25


@dataclass
class Moments:
    """Sufficient statistics of a corpus for spectral LDA (accumulated over batches)."""

    vocab: int
    docs2: int = 0  # documents with at least 2 words
    m1_sum: np.ndarray | None = None  # Σ c/l over documents with l ≥ 1
    docs1: int = 0

    def __post_init__(self) -> None:
        self.m1_sum = np.zeros(self.vocab)
        self.batches: list[sp.csr_matrix] = []

    def add(self, counts: sp.csr_matrix) -> None:
        counts = sp.csr_matrix(counts, dtype=np.float64)
        lengths = np.asarray(counts.sum(axis=1)).ravel()
        keep = lengths >= 1
        if not keep.any():
            return
        counts = counts[keep]
        lengths = lengths[keep]
        self.m1_sum += np.asarray(counts.multiply(1.0 / lengths[:, None]).sum(axis=0)).ravel()
        self.docs1 += counts.shape[0]
        self.docs2 += int(np.sum(lengths >= 2))
        self.batches.append(counts)

    @property
    def m1(self) -> np.ndarray:
        return self.m1_sum / max(self.docs1, 1)


def _pair_weights(lengths: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.where(lengths >= 2, 1.0 / (lengths * (lengths - 1)), 0.0)


def _triple_weights(lengths: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.where(lengths >= 3, 1.0 / (lengths * (lengths - 1) * (lengths - 2)), 0.0)


def whitening(
    moments: Moments, alpha0: float, k: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``(W, eigenvalues)``: the top-``k`` eigenpairs of ``M2`` (an implicit V × V operator)."""
    V = moments.vocab
    m1 = moments.m1
    n2 = max(moments.docs2, 1)
    shift = alpha0 / (alpha0 + 1.0)

    def matvec(block: np.ndarray) -> np.ndarray:
        block = block.reshape(V, -1)
        out = np.zeros_like(block)
        for counts in moments.batches:
            lengths = np.asarray(counts.sum(axis=1)).ravel()
            w = _pair_weights(lengths)
            proj = counts @ block  # (n, r)
            out += counts.T @ (proj * w[:, None])
            diag = np.asarray(counts.multiply(w[:, None]).sum(axis=0)).ravel()
            out -= diag[:, None] * block
        out /= n2
        out -= shift * np.outer(m1, m1 @ block)
        return out

    if V <= 2000:
        M2 = matvec(np.eye(V))
        M2 = (M2 + M2.T) / 2
        values, vectors = np.linalg.eigh(M2)
        order = np.argsort(values)[::-1][:k]
        values, vectors = values[order], vectors[:, order]
    else:
        from scipy.sparse.linalg import LinearOperator, eigsh

        op = LinearOperator((V, V), matvec=lambda v: matvec(v).ravel(), matmat=matvec, dtype=np.float64)
        values, vectors = eigsh(op, k=k, which="LA", v0=rng.random(V))
        order = np.argsort(values)[::-1]
        values, vectors = values[order], vectors[:, order]
    floor = max(float(values[0]) * 1e-10, 1e-30)
    values = np.maximum(values, floor)
    return vectors / np.sqrt(values), values


def whitened_third_moment(moments: Moments, alpha0: float, W: np.ndarray) -> np.ndarray:
    """``M3(W, W, W)`` as a dense ``k × k × k`` tensor."""
    k = W.shape[1]
    E3 = np.zeros((k, k, k))
    E2w = np.zeros((k, k))  # Wᵀ E[x1⊗x2] W
    n2 = max(moments.docs2, 1)
    n3 = 0
    for counts in moments.batches:
        lengths = np.asarray(counts.sum(axis=1)).ravel()
        w3 = _triple_weights(lengths)
        w2 = _pair_weights(lengths)
        n3 += int(np.sum(lengths >= 3))
        ct = np.asarray(counts @ W)  # (n, k): c̃ = Wᵀ c per document
        E3 += np.einsum("d,di,dj,dk->ijk", w3, ct, ct, ct, optimize=True)
        # Σ_d w3_d Σ_w c_dw (W_w ⊗ W_w ⊗ c̃_d) and its two permutations
        B = np.asarray(counts.T @ (ct * w3[:, None]))  # (V, k)
        cross = np.einsum("wi,wj,wk->ijk", W, W, B, optimize=True)
        E3 -= cross + cross.transpose(0, 2, 1) + cross.transpose(2, 0, 1)
        mass = np.asarray(counts.T @ w3).ravel()  # Σ_d w3_d c_dw
        E3 += 2.0 * np.einsum("w,wi,wj,wk->ijk", mass, W, W, W, optimize=True)
        E2w += (ct * w2[:, None]).T @ ct - (W.T * np.asarray(counts.T @ w2).ravel()) @ W
    E3 /= max(n3, 1)
    E2w /= n2
    m = W.T @ moments.m1
    pairs = np.einsum("ij,k->ijk", E2w, m)
    T = E3 - alpha0 / (alpha0 + 2.0) * (pairs + pairs.transpose(0, 2, 1) + pairs.transpose(2, 0, 1))
    T += 2.0 * alpha0**2 / ((alpha0 + 1.0) * (alpha0 + 2.0)) * np.einsum("i,j,k->ijk", m, m, m)
    return T


def tensor_power_method(
    T: np.ndarray, k: int, max_restarts: int, max_iterations: int, tol: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``(λ (k,), V (dim, k))`` of the robust tensor power method with deflation."""
    T = T.copy()
    dim = T.shape[0]
    lambdas = np.zeros(k)
    vectors = np.zeros((dim, k))
    for component in range(k):
        best_value, best_theta = -np.inf, None
        for _ in range(max_restarts):
            theta = rng.standard_normal(dim)
            theta /= np.linalg.norm(theta)
            for _ in range(max_iterations):
                nxt = np.einsum("ijk,j,k->i", T, theta, theta)
                norm = np.linalg.norm(nxt)
                if norm == 0:
                    break
                nxt /= norm
                moved = np.linalg.norm(nxt - theta)
                theta = nxt
                if moved < tol:
                    break
            value = float(np.einsum("ijk,i,j,k->", T, theta, theta, theta))
            if value > best_value:
                best_value, best_theta = value, theta
        theta = best_theta
        for _ in range(max_iterations):  # polish the best start
            nxt = np.einsum("ijk,j,k->i", T, theta, theta)
            norm = np.linalg.norm(nxt)
            if norm == 0:
                break
            nxt /= norm
            moved = np.linalg.norm(nxt - theta)
            theta = nxt
            if moved < tol:
                break
        value = float(np.einsum("ijk,i,j,k->", T, theta, theta, theta))
        lambdas[component] = value
        vectors[:, component] = theta
        T -= value * np.einsum("i,j,k->ijk", theta, theta, theta)
    return lambdas, vectors


@dataclass
class SpectralResult:
    alpha: np.ndarray  # (num_topics,) Dirichlet prior
    beta: np.ndarray  # (num_topics, V) topic-word distributions (rows sum to 1)


def fit(
    moments: Moments,
    num_topics: int,
    alpha0: float,
    max_restarts: int,
    max_iterations: int,
    tol: float,
    rng: np.random.Generator,
) -> SpectralResult:
    """``num_topics`` topics (of ``ceil(1.25 num_topics)`` extracted) with their priors."""
    V = moments.vocab
    extracted = min(max(num_topics, math.ceil(EXTRA_TOPIC_FACTOR * num_topics)), V - 1 if V > 2 else V)
    extracted = max(extracted, num_topics)
    W, _ = whitening(moments, alpha0, extracted, rng)
    T = whitened_third_moment(moments, alpha0, W)
    lambdas, vectors = tensor_power_method(T, extracted, max_restarts, max_iterations, tol, rng)
    lambdas = np.maximum(lambdas, 1e-12)
    weights = (2.0 / ((alpha0 + 2.0) * lambdas)) ** 2
    alpha = alpha0 * (alpha0 + 1.0) * weights
    unwhiten = np.linalg.pinv(W.T)  # (V, k)
    topics = (unwhiten @ vectors) * ((alpha0 + 2.0) * lambdas / 2.0)  # (V, k)
    # a component's sign is arbitrary in the whitened space; keep the orientation with more mass
    signs = np.where(topics.sum(axis=0) < 0, -1.0, 1.0)
    topics = np.maximum(topics * signs, 0.0) + 1e-12
    topics /= topics.sum(axis=0, keepdims=True)
    keep = np.argsort(alpha)[::-1][:num_topics]
    return SpectralResult(alpha=alpha[keep], beta=topics[:, keep].T.copy())


REFINE_PASSES = 5
REFINE_CHUNK_DOCS = 8192


def _expected_counts(
    counts: sp.csr_matrix,
    alpha: np.ndarray,
    beta: np.ndarray,
    gamma: np.ndarray | None = None,
    iterations: int = 20,
) -> tuple[np.ndarray, np.ndarray]:
    """One variational E-step over sparse documents: ``(γ (n, k), expected topic-word counts (k, V))``.

    With ``E_dk = exp(ψ(γ_dk) - ψ(Σγ_d))`` and ``N_dw = c_dw / Σ_k E_dk β_kw`` (only at the document's
    words): ``γ = α + E ⊙ (N βᵀ)`` and the expected topic-word counts are ``β ⊙ (Eᵀ N)``."""
    from scipy.special import digamma

    n, k = counts.shape[0], alpha.shape[0]
    rows = np.repeat(np.arange(n), np.diff(counts.indptr))
    cols, values = counts.indices, counts.data
    beta = np.maximum(beta, 1e-100)
    beta_t = beta.T[cols]  # (nnz, k)
    if gamma is None:
        gamma = np.tile(alpha, (n, 1)) + np.asarray(counts.sum(axis=1)) / k

    def scaled(expelog: np.ndarray) -> sp.csr_matrix:
        norm = np.einsum("nk,nk->n", expelog[rows], beta_t) + 1e-100
        return sp.csr_matrix((values / norm, cols, counts.indptr), shape=counts.shape)

    for _ in range(iterations):
        expelog = np.exp(digamma(gamma) - digamma(gamma.sum(axis=1, keepdims=True)))
        new = alpha + expelog * (scaled(expelog) @ beta.T)
        done = np.max(np.abs(new - gamma)) < 1e-3
        gamma = new
        if done:
            break
    expelog = np.exp(digamma(gamma) - digamma(gamma.sum(axis=1, keepdims=True)))
    topic_word = beta * np.asarray((scaled(expelog).T @ expelog).T)
    return gamma, topic_word


def refine(moments: Moments, result: SpectralResult, passes: int = REFINE_PASSES) -> SpectralResult:
    """``passes`` rounds of batch variational EM on the topic-word matrix, from the spectral estimate."""
    beta = result.beta
    gammas: dict[tuple[int, int], np.ndarray] = {}  # warm starts of each chunk's E-step
    for _ in range(passes):
        topic_word = np.zeros_like(beta)
        for b, batch in enumerate(moments.batches):
            for start in range(0, batch.shape[0], REFINE_CHUNK_DOCS):
                chunk = batch[start : start + REFINE_CHUNK_DOCS]
                gamma, expected = _expected_counts(chunk, result.alpha, beta, gammas.get((b, start)))
                gammas[(b, start)] = gamma
                topic_word += expected
        beta = (topic_word + 1e-6) / (topic_word + 1e-6).sum(axis=1, keepdims=True)
    return SpectralResult(alpha=result.alpha, beta=beta)


def topic_mixtures(
    counts: np.ndarray, alpha: np.ndarray, beta: np.ndarray, iterations: int = 50
) -> np.ndarray:
    """Per document, the normalised variational Dirichlet posterior ``γ / Σγ`` (mean-field E-step)."""
    from scipy.special import digamma

    counts = np.asarray(counts, dtype=np.float64)
    n, k = counts.shape[0], alpha.shape[0]
    gamma = np.tile(alpha, (n, 1)) + counts.sum(axis=1, keepdims=True) / k
    beta = np.maximum(beta, 1e-100)
    for _ in range(iterations):
        expelog = np.exp(digamma(gamma) - digamma(gamma.sum(axis=1, keepdims=True)))  # (n, k)
        norm = expelog @ beta + 1e-100  # (n, V)
        new = alpha + expelog * ((counts / norm) @ beta.T)
        if np.max(np.abs(new - gamma)) < 1e-4:
            gamma = new
            break
        gamma = new
    return gamma / gamma.sum(axis=1, keepdims=True)


def per_word_log_likelihood(counts: np.ndarray, alpha: np.ndarray, beta: np.ndarray) -> float:
    """``Σ_d Σ_w c_dw log(θ_d · β[:, w]) / Σ c`` with ``θ_d`` the document's topic mixture."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total == 0:
        return float("nan")
    theta = topic_mixtures(counts, alpha, beta)
    probs = theta @ beta
    mask = counts > 0
    return float(np.sum(counts[mask] * np.log(np.maximum(probs[mask], 1e-300))) / total)
