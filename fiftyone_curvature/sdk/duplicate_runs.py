"""The run record of a duplicate-conflict search (config, results, view).

FiftyOne finds the run class of :class:`DuplicateConflictsConfig` by
stripping "Config", so the three classes live together here. The search is
a brain run of its own (type ``"duplicate_conflicts"``, key
``<key>_duplicates``) so that ``delete_brain_run`` removes its fields and
saved view; ``key`` is the prefix of its fields and normally the key of a
curvature run, whose curvature orders the saved view.
"""

import fiftyone.core.brain as fob

from ..engine.constants import RUN_KEY

from .runs import delete_outputs

#: how images are compared: "aligned" (luminance after the best small
#: shift / crop, a threshold taken from the data and a ratio test: holds up
#: under colour shifts, crops, rescaling, JPEG and blur, see
#: :mod:`fiftyone_curvature.engine.near_duplicates`), "pixels"
#: (downsampled, zero-mean, unit-norm pixels, a fixed threshold),
#: "embeddings" (given vectors, e.g. a curvature run's penultimate
#: features) or "exact" (file hash only)
METHODS = ("aligned", "pixels", "embeddings", "exact")

#: default distance thresholds; None = taken from the data ("aligned").
#: Pixels and embeddings: cosine distances after fiftyone-brain centres the
#: vectors on their mean. The README's duplicates section has the
#: measurements behind them
DEFAULT_THRESHOLDS = {"aligned": None, "pixels": 0.01, "embeddings": 0.01}

#: side of the images each image method compares (smaller images keep
#: their size when they all agree, see
#: :func:`fiftyone_curvature.sdk.images.read_images`)
IMAGE_SIZES = {"aligned": 32, "pixels": 16}

#: suffixes of the fields a finder writes (``<key>_<suffix>``)
FIELD_SUFFIXES = ("duplicate_group", "duplicate_conflict",
                  "duplicate_distance")

#: suffix of the saved view (``<key>_duplicate_conflicts``); also the
#: suffix registered in :data:`fiftyone_curvature.sdk.views.VIEW_BUILDERS`
VIEW_SUFFIX = "duplicate_conflicts"



def run_key(key):
    """The brain-run key of the duplicate finder writing fields ``key_*``."""
    return f"{key}_duplicates"


def output_fields(key):
    """The sample fields a duplicate finder with prefix ``key`` writes:
    ``key_duplicate_group`` (int), ``key_duplicate_conflict`` (bool) and
    ``key_duplicate_distance`` (float)."""
    return [f"{key}_{s}" for s in FIELD_SUFFIXES]


def view_name(key):
    """Name of the saved view of conflicting duplicate groups."""
    return f"{key}_{VIEW_SUFFIX}"



class DuplicateConflictsConfig(fob.BrainMethodConfig):
    """Configuration of a duplicate-conflict search.

    Args:
        label_field: the fo.Classification field whose labels are compared
        key ("curvature"): prefix of the fields and view (normally the key
            of a curvature run, whose curvature orders the view)
        compare ("aligned"): how images are compared, one of
            :data:`METHODS` (the ``method`` argument of
            :func:`find_duplicate_conflicts`)
        threshold (None): distance threshold of near duplicates as given
            (None: :data:`DEFAULT_THRESHOLDS` of the method; the threshold
            a search used is on its results)
        ratio (None): the ratio-test threshold of "aligned"
        exact (True): whether byte-identical files are grouped too
        embeddings_field (None): the field the embeddings were read from,
            if any
        view (None): name of the saved view created, if any
        status ("complete"): ``"running"`` from registration until the
            results are saved (see :mod:`fiftyone_curvature.sdk.lifecycle`)
    """

    def __init__(
        self,
        label_field,
        key=RUN_KEY,
        compare="aligned",
        threshold=None,
        ratio=None,
        exact=True,
        embeddings_field=None,
        view=None,
        status="complete",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.status = status
        self.label_field = label_field
        self.key = key
        self.compare = compare
        self.threshold = threshold
        self.ratio = ratio
        self.exact = exact
        self.embeddings_field = embeddings_field
        self.view = view

    @property
    def type(self):
        return "duplicate_conflicts"

    @property
    def method(self):
        return self.compare

    def output_fields(self):
        return output_fields(self.key)


class DuplicateConflicts(fob.BrainMethod):
    """A duplicate-conflict search: knows its fields and saved view."""

    def ensure_requirements(self):
        pass

    def get_fields(self, samples, brain_key):
        return [self.config.label_field] + self.config.output_fields()

    def cleanup(self, samples, brain_key):
        delete_outputs(samples._root_dataset, self.config.output_fields(),
                       [self.config.view])

    def _validate_run(self, samples, brain_key, existing_info):
        self._validate_fields_match(brain_key, "key", existing_info)

    def _save_views(self, samples, brain_key, key):
        """Saves the view of conflicting groups of fields ``key_*`` on the
        run's samples; returns its name in a list (empty without
        conflict fields)."""
        view = conflict_view(self.load_run_view(samples, brain_key), key)
        if view is None:
            return []
        name = view_name(key)
        samples._root_dataset.save_view(
            name, view,
            description="duplicate images whose labels differ, one group "
            "after another (the finder's surest first), highest curvature "
            "first within a group",
            overwrite=True,
        )
        return [name]


class DuplicateConflictsResults(fob.BrainResults):
    """The groups a duplicate-conflict search found.

    Args:
        samples: the collection searched
        config: the :class:`DuplicateConflictsConfig`
        brain_key: the run key
        groups: list of conflicting groups, each a list of sample ids,
            group ``g`` (0-based) holding the samples whose
            ``<key>_duplicate_group`` is ``g``; surest group first (see
            ``certainty``), ties by highest curvature when the curvature
            field existed; members by curvature, highest first
        num_duplicate_groups: how many duplicate groups were found in all,
            same-label ones included
        threshold: the distance threshold used (None for "exact"; for
            "aligned", the one taken from the data unless given)
        ratio (None): the ratio-test threshold used ("aligned")
        certainty (None): per group, how sure the finder is (higher =
            surer; > 1 inside the decision, inf for byte-identical files)
        backend (None): a :class:`DuplicateConflicts`
    """

    def __init__(self, samples, config, brain_key, groups,
                 num_duplicate_groups, threshold, ratio=None,
                 certainty=None, backend=None):
        super().__init__(samples, config, brain_key, backend=backend)
        self.groups = [list(g) for g in groups]
        self.num_duplicate_groups = int(num_duplicate_groups)
        self.threshold = threshold
        self.ratio = ratio
        self.certainty = (list(certainty) if certainty is not None
                          else [None] * len(self.groups))

    @property
    def num_conflicts(self):
        """Number of samples in conflicting groups."""
        return sum(len(g) for g in self.groups)

    def view(self):
        """The conflicting samples, grouped, highest curvature first."""
        return conflict_view(self.samples, self.config.key)

    def get_meta(self):
        return {
            "num_conflict_groups": len(self.groups),
            "num_conflict_samples": self.num_conflicts,
            "num_duplicate_groups": self.num_duplicate_groups,
            "method": self.config.compare,
            "threshold": self.threshold,
            "ratio": self.ratio,
        }

    def summary(self):
        """What the finder chose and found (JSON-able)."""
        return dict(self.get_meta(), exact=self.config.exact)

    @classmethod
    def _from_dict(cls, d, samples, config, brain_key):
        return cls(samples, config, brain_key, groups=d["groups"],
                   num_duplicate_groups=d["num_duplicate_groups"],
                   threshold=d.get("threshold"), ratio=d.get("ratio"),
                   certainty=d.get("certainty"))


# --------------------------------------------------------------------------
# the view


def conflict_view(samples, key):
    """The samples of conflicting duplicate groups, group after group
    (``<key>_duplicate_group`` ascending), highest curvature (field
    ``key``) first within a group.

    Curvature is sorted on as an expression, so the saved view stays
    loadable when the curvature run is deleted or was never computed.

    Returns:
        a view, or None when ``samples`` has no ``<key>_duplicate_conflict``
        field
    """
    from fiftyone import ViewField as F

    group, flag = output_fields(key)[:2]
    if flag not in samples.get_field_schema():
        return None
    return samples.match(F(flag) == True).sort_by(  # noqa: E712
        [(group, 1), (F(key), -1)]
    )
