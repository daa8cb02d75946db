"""The IP Insights model: hashed entity embeddings and an IPv4 encoder, scored by their dot product.

Entities are hashed (BLAKE2b, stable across processes) into ``num_entity_vectors`` embedding rows.
An IPv4 address is encoded from hashed embeddings of its /8, /16, /24 and /32 prefixes (summed; so
addresses of one subnet share structure and unseen addresses still get a vector), followed by
``num_ip_encoder_layers`` dense ReLU layers of width ``vector_dim``. Training separates the observed
(entity, IP) pairs (label 1) from negatives (label 0): ``random_negative_sampling_rate`` uniformly random
IPv4 addresses and ``shuffled_negative_sampling_rate`` IPs of other pairs in the batch, per pair, with
binary cross-entropy on the dot product.
"""

from __future__ import annotations

import hashlib
import ipaddress

import numpy as np
import torch
from torch import nn

PREFIXES = (8, 16, 24, 32)
#: Embedding rows per prefix length: every /8 has its own; longer prefixes are hashed into 16384 rows.
PREFIX_ROWS = (256, 16384, 16384, 16384)
PREFIX_OFFSETS = tuple(int(x) for x in np.cumsum((0,) + PREFIX_ROWS[:-1]))


def entity_index(entity: str, num_entity_vectors: int) -> int:
    digest = hashlib.blake2b(entity.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") % num_entity_vectors


def parse_ip(text: str) -> int:
    """The IPv4 address as a 32-bit integer (ValueError when it is not one)."""
    return int(ipaddress.IPv4Address(text.strip()))


def ip_prefix_ids(ips: np.ndarray) -> np.ndarray:
    """``(n, 4)`` embedding rows: the hashed /8, /16, /24, /32 prefixes of 32-bit addresses."""
    ips = np.asarray(ips, dtype=np.uint64)
    columns = []
    for position, bits in enumerate(PREFIXES):
        prefix = ips >> np.uint64(32 - bits)
        mixed = (prefix * np.uint64(0x9E3779B97F4A7C15) + np.uint64(bits)) & np.uint64(0xFFFFFFFFFFFFFFFF)
        mixed ^= mixed >> np.uint64(29)
        rows = np.uint64(PREFIX_ROWS[position])
        bucket = prefix % rows if bits == 8 else mixed % rows
        columns.append(bucket.astype(np.int64) + PREFIX_OFFSETS[position])
    return np.stack(columns, axis=1)


class IPInsightsNetwork(nn.Module):
    def __init__(self, num_entity_vectors: int, vector_dim: int, num_ip_encoder_layers: int):
        super().__init__()
        self.entities = nn.Embedding(num_entity_vectors, vector_dim)
        self.ip_prefixes = nn.EmbeddingBag(sum(PREFIX_ROWS), vector_dim, mode="sum")
        layers: list[nn.Module] = []
        for index in range(num_ip_encoder_layers):
            layers.append(nn.Linear(vector_dim, vector_dim))
            if index < num_ip_encoder_layers - 1:
                layers.append(nn.ReLU())
        self.ip_layers = nn.Sequential(*layers)
        nn.init.normal_(self.entities.weight, std=0.1)
        nn.init.normal_(self.ip_prefixes.weight, std=0.1)

    def entity_vectors(self, entity_ids: torch.Tensor) -> torch.Tensor:
        return self.entities(entity_ids)

    def ip_vectors(self, prefix_ids: torch.Tensor) -> torch.Tensor:
        return self.ip_layers(self.ip_prefixes(prefix_ids))

    def forward(self, entity_ids: torch.Tensor, prefix_ids: torch.Tensor) -> torch.Tensor:
        return (self.entity_vectors(entity_ids) * self.ip_vectors(prefix_ids)).sum(dim=1)


def negatives(
    entity_ids: np.ndarray,
    ips: np.ndarray,
    random_rate: int,
    shuffled_rate: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """``(entity ids, IPs)`` of the negative pairs for a batch of true pairs."""
    n = entity_ids.shape[0]
    ent, ip = [], []
    for _ in range(random_rate):
        ent.append(entity_ids)
        ip.append(rng.integers(0, 1 << 32, size=n, dtype=np.uint64))
    for _ in range(shuffled_rate):
        if n < 2:
            break
        shift = rng.integers(1, n)
        ent.append(entity_ids)
        ip.append(np.roll(ips, shift))
    if not ent:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64)
    return np.concatenate(ent), np.concatenate(ip).astype(np.uint64)
