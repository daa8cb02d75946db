"""fastText's tokenisation, hashing and ``.bin`` model format (version 12), as fastText 0.9 defines them.

* Tokens split on ASCII whitespace; every line ends with the end-of-sentence token ``</s>``.
* ``hash``: 32-bit FNV-1a over the UTF-8 bytes, each byte sign-extended as fastText's ``int8_t`` cast.
* Word n-grams: for each position ``i`` and ``n`` up to ``wordNgrams``, ``h = h·116049371 + hash(w_j)``
  in 64-bit arithmetic starting from ``hash(w_i)`` (sign-extended), bucket ``h mod bucket``.
* Character n-grams (``minn``..``maxn`` of ``<word>``, UTF-8 aware) hash into the same buckets.
* With a pruned dictionary (``pruneidx``), only the kept buckets map to rows (``nwords + index``);
  others are dropped from the input.

``.bin`` layout (little-endian): magic ``793712314``, version ``12``; args (13 × int32 — dim, ws,
epoch, minCount, neg, wordNgrams, loss, model, bucket, minn, maxn, lrUpdateRate — then double t);
dictionary (size, nwords, nlabels: int32; ntokens, pruneidx_size: int64; entries: NUL-terminated
word, int64 count, int8 type; pruneidx pairs int32 → int32); bool quant_input; input matrix (int64 m,
int64 n, m·n float32); bool qout; output matrix. Files written here load in fastText
(``fasttext predict model.bin -``); fastText supervised models (softmax or one-vs-all loss, not
quantized) load here.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, field

import numpy as np

MAGIC = 793712314
VERSION = 12
EOS = "</s>"
BOW, EOW = "<", ">"
LABEL_PREFIX = "__label__"
LOSS_HS, LOSS_NS, LOSS_SOFTMAX, LOSS_OVA = 1, 2, 3, 4
MODEL_CBOW, MODEL_SG, MODEL_SUP = 1, 2, 3
_MASK64 = (1 << 64) - 1
_WHITESPACE = " \t\n\v\f\r\0"


def tokenize(line: str) -> list[str]:
    """Tokens of one line as fastText reads them (ASCII whitespace separated)."""
    for ch in _WHITESPACE[1:]:
        line = line.replace(ch, " ")
    return [t for t in line.split(" ") if t]


def fnv_hash(word: str | bytes) -> int:
    h = 2166136261
    for byte in word.encode("utf-8") if isinstance(word, str) else word:
        signed = byte - 256 if byte > 127 else byte
        h = (h ^ (signed & 0xFFFFFFFF)) & 0xFFFFFFFF
        h = (h * 16777619) & 0xFFFFFFFF
    return h


def _sign_extend32(h: int) -> int:
    return (h - (1 << 32)) & _MASK64 if h & 0x80000000 else h


def word_ngram_buckets(hashes: list[int], n: int, bucket: int) -> list[int]:
    """Bucket ids of the word n-grams (2 ≤ length ≤ n) of a line's word hashes."""
    out = []
    if n <= 1 or bucket <= 0:
        return out
    extended = [_sign_extend32(h) for h in hashes]
    for i in range(len(extended)):
        h = extended[i]
        for j in range(i + 1, min(len(extended), i + n)):
            h = (h * 116049371 + extended[j]) & _MASK64
            out.append(h % bucket)
    return out


def char_ngram_buckets(word: str, minn: int, maxn: int, bucket: int) -> list[int]:
    """Bucket ids of the character n-grams of ``<word>`` (fastText's computeSubwords)."""
    if maxn <= 0 or bucket <= 0 or word == EOS:
        return []
    data = (BOW + word + EOW).encode("utf-8")
    out = []
    for i in range(len(data)):
        if (data[i] & 0xC0) == 0x80:
            continue
        ngram = bytearray()
        j, n = i, 1
        while j < len(data) and n <= maxn:
            ngram.append(data[j])
            j += 1
            while j < len(data) and (data[j] & 0xC0) == 0x80:
                ngram.append(data[j])
                j += 1
            if n >= minn and not (n == 1 and (i == 0 or j == len(data))):
                out.append(fnv_hash(bytes(ngram)) % bucket)
            n += 1
    return out


@dataclass
class FastTextModel:
    """A supervised fastText model: dictionary, embedding (input) and output matrices."""

    dim: int
    word_ngrams: int
    bucket: int
    minn: int
    maxn: int
    loss: int
    words: list[str]
    word_counts: list[int]
    labels: list[str]
    label_counts: list[int]
    input: np.ndarray  # (nwords + rows of buckets, dim) float32
    output: np.ndarray  # (nlabels, dim) float32
    pruneidx: dict[int, int] | None = None  # bucket → index among kept buckets (None: all kept)
    ntokens: int = 0
    epoch: int = 5
    min_count: int = 1
    lr_update_rate: int = 100
    t: float = 1e-4
    ws: int = 5
    neg: int = 5
    word_index: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        if not self.word_index:
            self.word_index = {w: i for i, w in enumerate(self.words)}

    def _bucket_row(self, bucket_id: int) -> int | None:
        if self.pruneidx is None:
            return len(self.words) + bucket_id
        index = self.pruneidx.get(bucket_id)
        return None if index is None else len(self.words) + index

    def input_ids(self, tokens: list[str]) -> list[int]:
        """Rows of the input matrix averaged for a line (its words, subwords and word n-grams)."""
        ids: list[int] = []
        hashes: list[int] = []
        for token in [*tokens, EOS]:
            if token.startswith(LABEL_PREFIX):
                continue
            h = fnv_hash(token)
            wid = self.word_index.get(token)
            if wid is not None:
                ids.append(wid)
            if self.maxn > 0 and token != EOS:
                for b in char_ngram_buckets(token, self.minn, self.maxn, self.bucket):
                    row = self._bucket_row(b)
                    if row is not None:
                        ids.append(row)
            hashes.append(h)
        for b in word_ngram_buckets(hashes, self.word_ngrams, self.bucket):
            row = self._bucket_row(b)
            if row is not None:
                ids.append(row)
        return ids

    def probabilities(self, tokens: list[str]) -> np.ndarray:
        ids = self.input_ids(tokens)
        if not ids:
            hidden = np.zeros(self.dim, dtype=np.float32)
        else:
            hidden = self.input[ids].mean(axis=0)
        scores = self.output @ hidden
        if self.loss == LOSS_OVA:
            return 1.0 / (1.0 + np.exp(-scores))
        scores = scores - scores.max()
        exp = np.exp(scores)
        return exp / exp.sum()

    def predict(self, text: str, k: int = 1) -> tuple[list[str], list[float]]:
        probs = self.probabilities(tokenize(text))
        k = max(1, min(k, len(self.labels)))
        order = np.argsort(-probs, kind="stable")[:k]
        return [self.labels[i] for i in order], [float(probs[i]) for i in order]

    # -------------------------------------------------------------------------------------------
    # The .bin format

    def to_bytes(self) -> bytes:
        out = io.BytesIO()
        out.write(struct.pack("<ii", MAGIC, VERSION))
        out.write(
            struct.pack(
                "<12id",
                self.dim,
                self.ws,
                self.epoch,
                self.min_count,
                self.neg,
                self.word_ngrams,
                self.loss,
                MODEL_SUP,
                self.bucket,
                self.minn,
                self.maxn,
                self.lr_update_rate,
                self.t,
            )
        )
        entries = [(w, c, 0) for w, c in zip(self.words, self.word_counts)]
        entries += [(lab, c, 1) for lab, c in zip(self.labels, self.label_counts)]
        prune = -1 if self.pruneidx is None else len(self.pruneidx)
        out.write(struct.pack("<iiiqq", len(entries), len(self.words), len(self.labels), self.ntokens, prune))
        for word, count, kind in entries:
            out.write(word.encode("utf-8") + b"\0")
            out.write(struct.pack("<qb", count, kind))
        for key, value in sorted((self.pruneidx or {}).items()):
            out.write(struct.pack("<ii", key, value))
        out.write(struct.pack("<?", False))
        _write_matrix(out, self.input)
        out.write(struct.pack("<?", False))
        _write_matrix(out, self.output)
        return out.getvalue()

    @classmethod
    def from_bytes(cls, raw: bytes) -> FastTextModel:
        reader = _Reader(raw)
        magic, version = reader.unpack("<ii")
        if magic != MAGIC:
            raise ValueError("not a fastText model file (bad magic number)")
        if version > VERSION:
            raise ValueError(f"fastText model version {version} is newer than {VERSION}")
        (dim, ws, epoch, min_count, neg, word_ngrams, loss, model, bucket, minn, maxn, lr_rate, t) = (
            reader.unpack("<12id")
        )
        if model != MODEL_SUP:
            raise ValueError("the fastText model is not a supervised (classification) model")
        if loss not in (LOSS_SOFTMAX, LOSS_OVA):
            raise ValueError("only fastText models trained with the softmax or one-vs-all loss are served")
        size, nwords, nlabels, ntokens, prune = reader.unpack("<iiiqq")
        words, word_counts, labels, label_counts = [], [], [], []
        for _ in range(size):
            word = reader.cstring()
            count, kind = reader.unpack("<qb")
            if kind == 0:
                words.append(word)
                word_counts.append(count)
            else:
                labels.append(word)
                label_counts.append(count)
        pruneidx = None
        if prune >= 0:
            pruneidx = {}
            for _ in range(prune):
                key, value = reader.unpack("<ii")
                pruneidx[key] = value
        (quant,) = reader.unpack("<?")
        if quant:
            raise ValueError("quantized fastText models (.ftz) are not supported")
        matrix_in = reader.matrix()
        (qout,) = reader.unpack("<?")
        if qout:
            raise ValueError("quantized fastText models (.ftz) are not supported")
        matrix_out = reader.matrix()
        if len(words) != nwords or len(labels) != nlabels or matrix_out.shape[0] != nlabels:
            raise ValueError("inconsistent fastText model file")
        return cls(
            dim=dim,
            word_ngrams=word_ngrams,
            bucket=bucket,
            minn=minn,
            maxn=maxn,
            loss=loss,
            words=words,
            word_counts=word_counts,
            labels=labels,
            label_counts=label_counts,
            input=matrix_in,
            output=matrix_out,
            pruneidx=pruneidx,
            ntokens=ntokens,
            epoch=epoch,
            min_count=min_count,
            lr_update_rate=lr_rate,
            t=t,
            ws=ws,
            neg=neg,
        )


def _write_matrix(out: io.BytesIO, matrix: np.ndarray) -> None:
    matrix = np.ascontiguousarray(matrix, dtype="<f4")
    out.write(struct.pack("<qq", matrix.shape[0], matrix.shape[1]))
    out.write(matrix.tobytes())


class _Reader:
    def __init__(self, raw: bytes):
        self.raw = raw
        self.pos = 0

    def unpack(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.raw):
            raise ValueError("truncated fastText model file")
        values = struct.unpack_from(fmt, self.raw, self.pos)
        self.pos += size
        return values

    def cstring(self) -> str:
        end = self.raw.find(b"\0", self.pos)
        if end < 0:
            raise ValueError("truncated fastText model file")
        text = self.raw[self.pos : end].decode("utf-8", "replace")
        self.pos = end + 1
        return text

    def matrix(self) -> np.ndarray:
        m, n = self.unpack("<qq")
        count = m * n
        if m < 0 or n < 0 or self.pos + 4 * count > len(self.raw):
            raise ValueError("truncated fastText model file")
        values = np.frombuffer(self.raw, dtype="<f4", count=count, offset=self.pos).reshape(m, n)
        self.pos += 4 * count
        return values.astype(np.float32)
