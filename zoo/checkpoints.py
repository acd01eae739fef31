"""Storing first-layer tensors, reference weights, checkpoints and their metric vectors.

Tensors are small (a 64×3×7×7 float32 bank is 37 KB) and live in the ``tensors`` table, content-addressed
by the sha256 of their dtype, shape and bytes, so the catalog alone is enough to re-featurize everything.
The hash is checked on every read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import and_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from zoo.catalog import Catalog
from zoo.db.models import Checkpoint, CheckpointLabel, MetricValue, MetricVector, ReferenceWeights, Tensor
from zoo.errors import IntegrityError, InvalidInput, NotFound

STORED_DTYPE = np.dtype("<f4")


def tensor_sha256(array: np.ndarray) -> str:
    """sha256 over ``dtype|shape|`` and the little-endian float32 bytes."""
    header = f"{STORED_DTYPE.str}|{'x'.join(map(str, array.shape))}|".encode()
    return hashlib.sha256(header + np.ascontiguousarray(array, dtype=STORED_DTYPE).tobytes()).hexdigest()


def _insert_ignore(session: Session, table: Any, values: dict[str, Any], conflict: list[str]) -> None:
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert  # type: ignore[union-attr]
    session.execute(insert(table).values(**values).on_conflict_do_nothing(index_elements=conflict))


def put_tensor(session: Session, array: np.ndarray) -> int:
    """Store a tensor once (concurrent writers of the same bytes are fine) and return its id."""
    array = np.ascontiguousarray(array, dtype=STORED_DTYPE)
    if not np.all(np.isfinite(array)):
        raise InvalidInput("the tensor holds NaN or infinite values; the model's weights are broken")
    sha = tensor_sha256(array)
    _insert_ignore(
        session,
        Tensor,
        {
            "sha256": sha,
            "dtype": "float32",
            "shape": list(array.shape),
            "nbytes": array.nbytes,
            "data": array.tobytes(),
        },
        ["sha256"],
    )
    return session.scalars(select(Tensor.id).where(Tensor.sha256 == sha)).one()


def get_tensor(session: Session, tensor_id: int) -> np.ndarray:
    """Load a tensor and verify its hash."""
    row = session.get(Tensor, tensor_id)
    if row is None:
        raise NotFound(f"tensor {tensor_id} does not exist")
    return decode_tensor(row.data, row.shape, row.sha256, tensor_id)


def decode_tensor(data: bytes, shape: Sequence[int], sha: str, tensor_id: int) -> np.ndarray:
    """The stored bytes as a float32 array of ``shape``, after checking they still hash to ``sha``.

    A row whose bytes were altered, truncated or extended fails the same way, with :class:`IntegrityError`.
    """
    expected = STORED_DTYPE.itemsize * int(np.prod(shape, dtype=np.int64))
    if (
        data is None
        or len(data) != expected
        or tensor_sha256(np.frombuffer(data, dtype=STORED_DTYPE).reshape(shape)) != sha
    ):
        raise IntegrityError(f"tensor {tensor_id} is corrupt: its bytes no longer match its sha256")
    return np.frombuffer(data, dtype=STORED_DTYPE).reshape(shape).astype(np.float32)


@dataclass(frozen=True)
class ReferenceInfo:
    """Where a delta is measured from; ``key`` identifies it in the catalog."""

    key: str
    kind: str
    arch: str
    source: str
    layer_name: str
    revision: str | None = None
    seed: int | None = None
    file_sha256: str | None = None


def reference_id(session: Session, key: str) -> int | None:
    return session.scalars(select(ReferenceWeights.id).where(ReferenceWeights.key == key)).first()


def put_reference(session: Session, info: ReferenceInfo, weight: np.ndarray) -> int:
    """Record reference weights once; the same key with different weights is refused."""
    tensor_id = put_tensor(session, weight)
    _insert_ignore(
        session,
        ReferenceWeights,
        {
            "key": info.key,
            "kind": info.kind,
            "arch": info.arch,
            "source": info.source,
            "revision": info.revision,
            "seed": info.seed,
            "file_sha256": info.file_sha256,
            "layer_name": info.layer_name,
            "tensor_id": tensor_id,
        },
        ["key"],
    )
    row = session.scalars(select(ReferenceWeights).where(ReferenceWeights.key == info.key)).one()
    if row.tensor_id != tensor_id:
        raise IntegrityError(
            f"reference {info.key} is already catalogued with different first-layer weights "
            "(a different timm/torch version initialises differently?); use another reference"
        )
    return row.id


def reference_weight(session: Session, reference: int) -> np.ndarray:
    row = session.get(ReferenceWeights, reference)
    if row is None:
        raise NotFound(f"reference {reference} does not exist")
    return get_tensor(session, row.tensor_id)


def catalog_reference_kinds(catalog: Catalog) -> list[str]:
    """The kinds of reference (``random``, ``timm``, ``hub``, ``file``) the catalog's checkpoints were measured from."""
    query = select(ReferenceWeights.kind).join(Checkpoint, Checkpoint.reference_id == ReferenceWeights.id).distinct()
    with catalog.session() as session:
        return sorted(session.scalars(query))


def find_external_checkpoint(
    session: Session, *, source: str, arch: str, reference: int, file_sha256: str
) -> int | None:
    """The checkpoint already catalogued from the same weights file (``source`` hub or file), architecture and reference."""
    return session.scalars(
        select(Checkpoint.id)
        .where(
            Checkpoint.file_sha256 == file_sha256,
            Checkpoint.arch == arch,
            Checkpoint.reference_id == reference,
            Checkpoint.source == source,
        )
        .order_by(Checkpoint.id)
    ).first()


def put_labels(session: Session, checkpoint_id: int, labels: Mapping[str, float]) -> None:
    """Set known property values of a checkpoint (a label given again replaces the old value)."""
    for name, value in labels.items():
        session.merge(CheckpointLabel(checkpoint_id=checkpoint_id, property=name, value=value))


def learned_weights(session: Session, checkpoint: Checkpoint) -> np.ndarray:
    """A checkpoint's learned first-layer weights: its stored tensor (rows written before revision 0004),
    else reference + delta in float32 (equal to the trained weights to float32 rounding, ~1e-7 relative)."""
    if checkpoint.learned_tensor_id is not None:
        return get_tensor(session, checkpoint.learned_tensor_id)
    reference = reference_weight(session, checkpoint.reference_id)
    delta = get_tensor(session, checkpoint.delta_tensor_id)
    if reference.shape != delta.shape:
        raise IntegrityError(
            f"checkpoint {checkpoint.id}: its delta {delta.shape} and reference {reference.shape} differ in shape; "
            "the catalog is inconsistent"
        )
    return (reference + delta).astype(np.float32)


def filter_banks(catalog: Catalog, checkpoint_id: int) -> dict[str, np.ndarray]:
    """The reference, learned and delta first-layer banks ``(N, C, n, n)`` of a checkpoint (hash-checked)."""
    with catalog.session() as session:
        row = session.get(Checkpoint, checkpoint_id)
        if row is None:
            raise NotFound(f"there is no checkpoint {checkpoint_id}; find ids with `zoo query`")
        return {
            "reference": reference_weight(session, row.reference_id),
            "learned": learned_weights(session, row),
            "delta": get_tensor(session, row.delta_tensor_id),
        }


MetricVectors = Mapping[tuple[str, int], Mapping[str, float]]


def put_metric_vector(
    session: Session, checkpoint_id: int, feature_set: tuple[str, int], values: Mapping[str, float]
) -> None:
    bad = [name for name, value in values.items() if not np.isfinite(value)]
    if bad:
        raise InvalidInput(f"metrics {', '.join(bad)} are not finite for checkpoint {checkpoint_id}; not stored")
    vector = MetricVector(checkpoint_id=checkpoint_id, feature_set=feature_set[0], feature_set_version=feature_set[1])
    session.add(vector)
    session.flush()
    session.add_all(MetricValue(vector_id=vector.id, metric=name, value=float(v)) for name, v in values.items())


def add_checkpoint(
    session: Session,
    *,
    source: str,
    arch: str,
    reference: int,
    layer_name: str,
    delta: np.ndarray,
    metrics: MetricVectors,
    labels: Mapping[str, float] | None = None,
    learned: np.ndarray | None = None,
    **fields: Any,
) -> int:
    """Insert one checkpoint with its delta tensor, metric vectors and labels; returns its id.

    Only the delta is stored: the learned weights are reference + delta, derived on read by
    :func:`learned_weights`. ``learned``, when given, is checked for finite values and not stored.
    ``fields`` are further :class:`~zoo.db.models.Checkpoint` columns (run_id, epoch, val_accuracy, ...).
    """
    if learned is not None and not np.all(np.isfinite(learned)):
        raise InvalidInput("the tensor holds NaN or infinite values; the model's weights are broken")
    row = Checkpoint(
        source=source,
        arch=arch,
        reference_id=reference,
        layer_name=layer_name,
        learned_tensor_id=None,
        delta_tensor_id=put_tensor(session, delta),
        **fields,
    )
    session.add(row)
    session.flush()
    for feature_set, values in metrics.items():
        put_metric_vector(session, row.id, feature_set, values)
    session.add_all(
        CheckpointLabel(checkpoint_id=row.id, property=k, value=float(v)) for k, v in (labels or {}).items()
    )
    return row.id


def add_external_checkpoint(
    catalog: Catalog,
    reference: ReferenceInfo,
    weight: np.ndarray,
    *,
    source: str,
    arch: str,
    file_sha256: str,
    delta: np.ndarray,
    metrics: MetricVectors,
    labels: Mapping[str, float],
    **fields: Any,
) -> tuple[int, bool]:
    """Store a checkpoint catalogued from a weights file (``source`` hub or file) in one transaction: its
    reference (``weight``), the checkpoint with ``metrics`` and ``labels`` (:func:`add_checkpoint`, which
    takes ``fields``). The same file, architecture and reference again only sets ``labels`` on the checkpoint
    already there. Returns (checkpoint id, True when it is new)."""
    with catalog.session(write=True) as session:
        reference_id = put_reference(session, reference, weight)
        existing = find_external_checkpoint(
            session, source=source, arch=arch, reference=reference_id, file_sha256=file_sha256
        )
        if existing is not None:
            put_labels(session, existing, labels)
            return existing, False
        checkpoint_id = add_checkpoint(
            session,
            source=source,
            arch=arch,
            reference=reference_id,
            layer_name=reference.layer_name,
            delta=delta,
            metrics=metrics,
            labels=labels,
            file_sha256=file_sha256,
            **fields,
        )
    return checkpoint_id, True


def compute_metrics(delta: np.ndarray, feature_sets: Sequence[str]) -> dict[tuple[str, int], dict[str, float]]:
    """Metric vectors of one delta for each named feature set."""
    from zoo.filters import featurize, get_feature_set

    result = {}
    for key in feature_sets:
        feature_set = get_feature_set(key)
        result[(feature_set.name, feature_set.version)] = featurize(delta, feature_set)
    return result


FEATURIZE_CHUNK = 256


def missing_vectors(catalog: Catalog, feature_set: str) -> list[int]:
    """Checkpoints that have no vector of this feature set version yet."""
    from zoo.filters import get_feature_set

    fs = get_feature_set(feature_set)
    has = and_(
        MetricVector.checkpoint_id == Checkpoint.id,
        MetricVector.feature_set == fs.name,
        MetricVector.feature_set_version == fs.version,
    )
    with catalog.session() as session:
        return list(
            session.scalars(
                select(Checkpoint.id).where(~select(MetricVector.id).where(has).exists()).order_by(Checkpoint.id)
            )
        )


def featurize_catalog(catalog: Catalog, feature_set: str, *, progress: Callable[[int], None] | None = None) -> int:
    """Compute ``feature_set`` for every stored delta that lacks it (no retraining); idempotent.

    Returns the number of checkpoints featurized. Work is committed in chunks, so an interrupted run keeps
    what it finished and the next run continues from there.
    """
    from zoo.filters import featurize_many, get_feature_set

    fs = get_feature_set(feature_set)
    todo = missing_vectors(catalog, feature_set)
    for start in range(0, len(todo), FEATURIZE_CHUNK):
        ids = todo[start : start + FEATURIZE_CHUNK]
        with catalog.session() as session:
            rows = session.execute(
                select(Checkpoint.id, Tensor.id, Tensor.data, Tensor.shape, Tensor.sha256)
                .join(Tensor, Tensor.id == Checkpoint.delta_tensor_id)
                .where(Checkpoint.id.in_(ids))
            ).all()
        deltas = [decode_tensor(data, shape, sha, tid) for _, tid, data, shape, sha in rows]
        values = featurize_many(deltas, fs)
        with catalog.session(write=True) as session:
            for (checkpoint_id, *_), vector in zip(rows, values):
                exists = session.scalars(
                    select(MetricVector.id).where(
                        MetricVector.checkpoint_id == checkpoint_id,
                        MetricVector.feature_set == fs.name,
                        MetricVector.feature_set_version == fs.version,
                    )
                ).first()
                if exists is None:  # another process may have done it meanwhile
                    put_metric_vector(
                        session, checkpoint_id, (fs.name, fs.version), dict(zip(fs.metrics, map(float, vector)))
                    )
        if progress is not None:
            progress(len(ids))
    return len(todo)
