"""What a run read: its sample ids and labels, checked again before it
writes (another process may delete samples or change labels meanwhile)."""

import dataclasses
import hashlib


def _digest(values):
    h = hashlib.sha256()
    for v in values:
        h.update(b"\x00" if v is None else str(v).encode() + b"\x01")
    return h.hexdigest()


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """The ids and labels of a collection when a run started.

    Attributes:
        label_field: the run's fo.Classification field
        ids: (N,) tuple of sample ids, in collection order
        labels: (N,) tuple of the labels (None where missing)
        digest: sha256 of both (what :meth:`check` compares first)
    """

    label_field: str
    ids: tuple
    labels: tuple
    digest: str

    def check(self, samples, what="The run"):
        """Raises ValueError (one line naming what changed) unless
        ``samples`` still holds the same samples with the same labels.

        Args:
            samples: the collection the snapshot was taken of
            what ("The run"): how the message names the operation
        """
        now = take(samples, self.label_field)
        if now.digest == self.digest:
            return
        before, after = set(self.ids), set(now.ids)
        gone, new = before - after, after - before
        old = dict(zip(self.ids, self.labels))
        relabeled = [i for i, label in zip(now.ids, now.labels)
                     if i in old and old[i] != label]
        parts = []
        if gone:
            parts.append(f"{len(gone)} sample(s) deleted (e.g. "
                         f"{sorted(gone)[0]})")
        if new:
            parts.append(f"{len(new)} sample(s) added (e.g. "
                         f"{sorted(new)[0]})")
        if relabeled:
            parts.append(f"the {self.label_field!r} label of "
                         f"{len(relabeled)} sample(s) changed (e.g. "
                         f"{relabeled[0]})")
        if not parts:
            parts.append("the order of the samples changed")
        raise ValueError(
            f"{what} refuses to write: its samples changed while it ran: "
            + "; ".join(parts) + ". Nothing was written; run it again on "
            "the current samples")


def take(samples, label_field):
    """A :class:`Snapshot` of the ids and ``label_field`` labels of
    ``samples`` (two column reads)."""
    ids, labels = samples.values(["id", f"{label_field}.label"])
    ids, labels = tuple(ids), tuple(labels)
    return Snapshot(label_field, ids, labels,
                    _digest(ids + ("\x02",) + labels))
