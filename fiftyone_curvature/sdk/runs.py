"""The brain-style run record of a curvature computation (config, results).

FiftyOne finds the run class of :class:`CurvatureConfig` by stripping
"Config", so the three classes live together here. This module imports
neither torch nor the engine: the App loads run records to list them.
"""

import numpy as np

import fiftyone.core.brain as fob
import fiftyone.core.utils as fou

from ..engine import validation
from ..engine.constants import IMAGE_SIZE, RUN_KEY
from ..engine.dynamics import SCORES
from . import views as cv_views
from .app_fields import EVALUATION_TYPE, hide_run_labels


def output_fields(key, score_names=None):
    """The sample fields a run with key ``key`` writes.

    Args:
        key: the run key, which is also its curvature field
        score_names (None): the training-dynamics scores written (None: all
            of :data:`fiftyone_curvature.engine.dynamics.SCORES`)

    Returns:
        a list of field names: ``key`` (mean curvature), ``key_epochs``,
        ``key_percentile``, ``key_prediction``, ``key_suggested_label``,
        ``key_memorization`` and ``key_<score>``
    """
    names = list(SCORES) if score_names is None else list(score_names)
    return [
        key,
        f"{key}_epochs",
        f"{key}_percentile",
        f"{key}_prediction",
        f"{key}_suggested_label",
        f"{key}_memorization",
    ] + [f"{key}_{name}" for name in names]


#: output suffixes of a run that get a database index, so that the App's
#: sidebar shows a slider for them with Query Performance on
INDEXED_SUFFIXES = ("", "_percentile", "_memorization")


def indexed_fields(key):
    """The fields of run ``key`` that are indexed (curvature and the two
    percentiles)."""
    return [f"{key}{suffix}" for suffix in INDEXED_SUFFIXES]


def create_indexes(dataset, key, fields=None, evaluation=False):
    """Indexes the run's main numeric fields (the App's sidebar filters
    them with a slider only when they are indexed) and hides its label
    fields but the suggested label from the App's grid by default (see
    :func:`fiftyone_curvature.sdk.app_fields.hide_run_labels`)."""
    for field in indexed_fields(key):
        dataset.create_index(field)
    hide_run_labels(dataset, key,
                    output_fields(key) if fields is None else fields,
                    evaluation)


def delete_outputs(dataset, fields, views):
    """Deletes those of ``fields`` (with their indexes) and saved ``views``
    that exist (what a run's cleanup removes)."""
    schema = dataset.get_field_schema()
    present = [f for f in fields if f in schema]
    indexes = set(dataset.list_indexes())
    for field in present:
        if field in indexes:
            dataset.drop_index(field)
    if present:
        dataset.delete_sample_fields(present, error_level=1)
    cv_views.delete_views(dataset, [v for v in views if v])


def features_fields_in_use(dataset, exclude=None):
    """The run-owned pretrained-features fields that the runs of
    ``dataset`` other than ``exclude`` record as theirs (a rerun that
    replaces a run reuses its embeddings: the old run's cleanup must
    leave them)."""
    used = set()
    for key in dataset.list_brain_runs():
        if key == exclude:
            continue
        features = getattr(dataset.get_brain_info(key).config, "features",
                           None)
        if isinstance(features, dict) and features.get("model"):
            used.add(features.get("field"))
    return used


def check_key_name(key, key_name="key"):
    """Raises ValueError unless ``key`` is an identifier that does not start
    with ``_`` (FiftyOne refuses private field names, and only once the
    fields are written)."""
    validation.key(key_name, key)


def foreign_views(dataset, names, owned=()):
    """The saved views of ``dataset`` that saving ``names`` would replace
    (same name or FiftyOne slug) and are not in ``owned`` (the views of
    the run being replaced)."""
    return cv_views.clashing_views(dataset, names, owned)


def check_run_key(samples, key, label_field, run_type, what, outputs_of,
                  key_name="key", brain_key_of=None, views_of=None):
    """Raises ValueError unless ``key`` can name a run of ``run_type``.

    A key is usable when it is an identifier not starting with ``_``, none
    of its output fields is the label field, and its brain key, output
    fields and saved view names are either free or already owned by a run
    of the same type (which the new run replaces).

    Args:
        samples: the collection the run is for
        key: the user's key (the output fields are derived from it)
        label_field: the label field the run reads (never overwritten)
        run_type: the brain method class that owns such runs
        what: how errors name the run type, e.g. ``"a curvature run"``
        outputs_of: function mapping a key to its output field names
        key_name ("key"): how errors name the argument
        brain_key_of (None): function mapping a key to its brain key, when
            they differ
        views_of (None): function mapping a key to the saved view names the
            run would create
    """
    check_key_name(key, key_name)
    outputs = outputs_of(key)
    if label_field in outputs:
        raise ValueError(
            f"The label field {label_field!r} would be overwritten by "
            f"{what} {key!r}; choose another {key_name}")
    dataset = samples._root_dataset
    brain_key = brain_key_of(key) if brain_key_of else key
    ours = set(dataset.list_brain_runs(type=run_type))
    if brain_key in dataset.list_brain_runs() and brain_key not in ours:
        raise ValueError(
            f"Brain run {brain_key!r} exists and is not {what}; choose "
            f"another {key_name} or delete that run")
    if brain_key not in ours:
        schema = dataset.get_field_schema()
        taken = [f for f in outputs if f in schema]
        if taken:
            raise ValueError(
                f"Fields {taken} exist and were not written by {what}; "
                f"choose another {key_name} than {key!r}")
    if views_of is not None:
        owned = (run_views(dataset, brain_key) if brain_key in ours
                 else [])
        taken = foreign_views(dataset, views_of(key), owned)
        if taken:
            raise ValueError(
                f"Saved views {taken} exist and were not created by "
                f"{what}; choose another {key_name} than {key!r} or "
                "rename those views")


def run_views(dataset, brain_key):
    """The saved views the run ``brain_key`` recorded as its own."""
    config = dataset.get_brain_info(brain_key).config
    views = getattr(config, "views", None)
    if views is None:
        view = getattr(config, "view", None)
        views = [view] if view else []
    return list(views)


class RunRenameError(BaseException):
    """A run cannot be renamed; nothing was changed.

    A BaseException: FiftyOne's ``rename_brain_run`` logs and ignores an
    Exception raised by a run's ``rename()`` and then renames the record
    anyway, leaving the fields under the old key; this stops it before
    anything moves.
    """


class CurvatureConfig(fob.BrainMethodConfig):
    """Configuration of a curvature run.

    Args:
        label_field: the fo.Classification field trained on
        curvature_field ("curvature"): the output field; also the run key
        classes (None): class names, in index order
        image_size (32): the working-resolution parameter used
        tracking (None): the full
            :class:`fiftyone_curvature.engine.config.TrackingConfig` as a dict
            (resolved, e.g. the model "auto" picked, once the run finished)
        thresholds (None): the saved views' thresholds, see
            :func:`fiftyone_curvature.sdk.views.build_views`
        rank_by ("curvature"): the score whose percentile is the
            ``key_memorization`` field the views rank by (curvature or a
            training-dynamics score)
        score_names (None): the training-dynamics scores written
        views (None): the names of the saved views the run created
        status ("complete"): ``"running"`` from registration until the
            results are saved; a run left ``"running"`` by a process that
            is gone was interrupted (kill -9, out of memory): its fields
            hold nothing new, :func:`fiftyone_curvature.sdk.info.run_info`
            reports it, a rerun of the key (resuming from
            ``checkpoint_dir``) or ``delete_brain_run`` removes it
        checkpoint_dir (None): where the run checkpoints every epoch
        features (None): the pretrained features the run trained a head
            on: ``{"field": name}`` for an embeddings field, plus
            ``"model"`` (and the weights' hash) when the run computed them
            into its own field ``<key>_features``; None = from scratch on
            the images
    """

    def __init__(
        self,
        label_field,
        curvature_field=RUN_KEY,
        classes=None,
        image_size=IMAGE_SIZE,
        tracking=None,
        thresholds=None,
        score_names=None,
        views=None,
        rank_by="curvature",
        status="complete",
        checkpoint_dir=None,
        features=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.features = features
        self.rank_by = rank_by
        self.status = status
        self.checkpoint_dir = checkpoint_dir
        self.label_field = label_field
        self.curvature_field = curvature_field
        self.classes = classes
        self.image_size = image_size
        self.tracking = tracking or {}
        self.thresholds = thresholds or {}
        self.score_names = (
            list(SCORES) if score_names is None else list(score_names)
        )
        self.views = list(views) if views is not None else []

    @property
    def type(self):
        return "curvature"

    @property
    def method(self):
        return self.tracking.get("estimator", "fd")

    def output_fields(self, key=None):
        """The sample fields this run writes (under ``key``, by default
        its own)."""
        key = key or self.curvature_field
        owned = ([f"{key}_features"] if (self.features or {}).get("model")
                 else [])
        return output_fields(key, self.score_names) + owned


class Curvature(fob.BrainMethod):
    """A curvature run: knows its fields and saved views."""

    def ensure_requirements(self):
        pass

    def get_fields(self, samples, brain_key):
        return [self.config.label_field] + self.config.output_fields()

    def cleanup(self, samples, brain_key):
        dataset = samples._root_dataset
        shared = features_fields_in_use(dataset, exclude=brain_key)
        delete_outputs(dataset, [f for f in self.config.output_fields()
                                 if f not in shared], self.config.views)

    #: how rename errors name this kind of run
    _RUN_NOUN = "curvature run"

    def _save_views(self, samples, brain_key, key):
        """Saves this run's views under key ``key``; returns their names."""
        return cv_views.save_views(
            self.load_run_view(samples, brain_key),
            key,
            self.config.label_field,
            self.config.thresholds,
        )

    def check_rename(self, samples, brain_key, new_brain_key):
        """Raises :class:`RunRenameError` unless the run can be renamed to
        ``new_brain_key`` (a free, valid key whose fields and views are
        free); called before anything moves."""
        dataset = samples._root_dataset
        try:
            check_key_name(new_brain_key, "the new key")
        except ValueError as e:
            raise RunRenameError(
                f"Cannot rename {self._RUN_NOUN} {brain_key!r}: {e}"
            ) from None
        if new_brain_key in dataset.list_brain_runs():
            raise RunRenameError(
                f"Cannot rename {self._RUN_NOUN} {brain_key!r} to "
                f"{new_brain_key!r}: a brain run of that key exists")
        if getattr(self.config, "status", "complete") == "running":
            raise RunRenameError(
                f"Cannot rename {self._RUN_NOUN} {brain_key!r}: it is "
                "running or was interrupted; rerun or delete it first")
        schema = dataset.get_field_schema()
        taken = [f for f in self.config.output_fields(new_brain_key)
                 if f in schema]
        if taken:
            raise RunRenameError(
                f"Cannot rename {self._RUN_NOUN} {brain_key!r} to "
                f"{new_brain_key!r}: fields {taken} already exist; nothing "
                "was changed"
            )
        if self.config.views:
            new_views = [v.replace(brain_key, new_brain_key, 1)
                         for v in self.config.views]
            taken = foreign_views(dataset, new_views)
            if taken:
                raise RunRenameError(
                    f"Cannot rename {self._RUN_NOUN} {brain_key!r} to "
                    f"{new_brain_key!r}: saved views {taken} already "
                    "exist; nothing was changed")

    def rename(self, samples, brain_key, new_brain_key):
        if getattr(self.config, "status", None) == "swapping":
            # a rerun's record moving to the key it replaces: the run
            # lifecycle has moved the fields already
            return
        self.check_rename(samples, brain_key, new_brain_key)
        dataset = samples._root_dataset
        old = self.config.output_fields()
        new = self.config.output_fields(new_brain_key)
        schema = dataset.get_field_schema()
        indexes = set(dataset.list_indexes())
        for field in old:
            if field in indexes:
                dataset.drop_index(field)
        dataset.rename_sample_fields(
            {o: n for o, n in zip(old, new) if o in schema}
        )
        create_indexes(dataset, new_brain_key, new,
                       self.config.type == EVALUATION_TYPE)
        had_views = bool(self.config.views)
        cv_views.delete_views(dataset, self.config.views)
        self.config.curvature_field = new_brain_key
        if (self.config.features or {}).get("model"):
            self.config.features = dict(
                self.config.features, field=f"{new_brain_key}_features")
        self.config.views = []
        if had_views:
            self.config.views = self._save_views(samples, brain_key,
                                                 new_brain_key)
        self.update_run_config(samples, brain_key, self.config)

    def _validate_run(self, samples, brain_key, existing_info):
        self._validate_fields_match(
            brain_key, "curvature_field", existing_info
        )


class CurvatureResults(fob.BrainResults):
    """What a curvature run keeps beyond its sample fields.

    Args:
        samples: the collection the run was computed on
        config: the :class:`CurvatureConfig`
        brain_key: the run key
        sample_ids: (N,) ids of the samples trained on, in row order
        curvature: (N,) mean curvature, higher = more likely memorized
        curvature_epochs: (N, E) curvature at each scored epoch, higher =
            more likely memorized
        scored_epochs: the E 1-based epochs that were scored
        history: one dict per training epoch (train_loss, train_accuracy,
            lr, train_seconds, score_seconds, scored)
        classes: the K class names
        image_size: the (H, W) the images were trained at
        normalization: per-channel mean/std of the inputs
        train_seconds / score_seconds: wall time of each phase
        label_review (None): what the run estimated of its labels: a dict
            with ``estimated_errors`` (number of wrong labels, from the AUM
            mixture or confident learning, named by ``estimator``),
            ``fitting_window`` (epochs the suggested labels average over),
            ``aum_mixture_errors`` and ``confident_joint_errors`` (both
            counts), ``rank_by``,
            ``num_suggested_changes`` (samples whose suggested label
            differs from theirs)
        skipped (None): ``{"id", "filepath", "reason"}`` of the samples
            left out because their image could not be read
        backend (None): a :class:`Curvature`
    """

    _ARRAY_FIELDS = ("sample_ids", "curvature", "curvature_epochs")

    def __init__(
        self,
        samples,
        config,
        brain_key,
        sample_ids,
        curvature,
        curvature_epochs,
        scored_epochs,
        history,
        classes,
        image_size=None,
        normalization=None,
        train_seconds=None,
        score_seconds=None,
        label_review=None,
        skipped=None,
        backend=None,
    ):
        super().__init__(samples, config, brain_key, backend=backend)
        self.label_review = dict(label_review or {})
        self.skipped = list(skipped or [])
        self.sample_ids = np.asarray(sample_ids, dtype=str)
        self.curvature = np.asarray(curvature, dtype=np.float64)
        self.curvature_epochs = np.asarray(curvature_epochs,
                                           dtype=np.float32)
        self.scored_epochs = [int(e) for e in scored_epochs]
        self.history = list(history)
        self.classes = list(classes)
        self.image_size = list(image_size) if image_size else None
        self.normalization = normalization
        self.train_seconds = train_seconds
        self.score_seconds = score_seconds

    @property
    def num_samples(self):
        return len(self.sample_ids)

    def epochs_of(self, sample_ids):
        """(M, E) per-epoch curvature of the given sample ids (NaN rows for
        ids outside the run), higher = more likely memorized."""
        row = {sid: i for i, sid in enumerate(self.sample_ids)}
        out = np.full(
            (len(sample_ids), self.curvature_epochs.shape[1]), np.nan,
            np.float32,
        )
        for j, sid in enumerate(sample_ids):
            i = row.get(sid)
            if i is not None:
                out[j] = self.curvature_epochs[i]
        return out

    def get_meta(self):
        return {
            "num_samples": int(self.num_samples),
            "scored_epochs": len(self.scored_epochs),
            "final_train_accuracy": (
                self.history[-1]["train_accuracy"] if self.history else None
            ),
            "estimated_errors": self.label_review.get("estimated_errors"),
        }

    def attributes(self):
        return [
            a for a in super().attributes() if a not in self._ARRAY_FIELDS
        ]

    def serialize(self, reflective=False):
        d = super().serialize(reflective=reflective)
        for name in self._ARRAY_FIELDS:
            d[name] = fou.serialize_numpy_array(getattr(self, name),
                                                ascii=True)
        return d

    @classmethod
    def stored_kwargs(cls, d):
        """The keyword arguments of this class stored in the serialized
        dict ``d`` (arrays decoded)."""
        arrays = {
            name: fou.deserialize_numpy_array(d[name], ascii=True)
            for name in cls._ARRAY_FIELDS
        }
        return dict(
            scored_epochs=d["scored_epochs"],
            history=d["history"],
            classes=d["classes"],
            image_size=d.get("image_size"),
            normalization=d.get("normalization"),
            train_seconds=d.get("train_seconds"),
            score_seconds=d.get("score_seconds"),
            label_review=d.get("label_review"),
            skipped=d.get("skipped"),
            **arrays,
        )

    @classmethod
    def _from_dict(cls, d, samples, config, brain_key):
        return cls(samples, config, brain_key, **cls.stored_kwargs(d))


def result_kwargs(prepared, result, rank_by="curvature"):
    """The :class:`CurvatureResults` keyword arguments of an engine result
    trained on ``prepared`` data (ids, curvature, history, timings, label
    review)."""
    review = result.label_review
    return dict(
        label_review={
            "estimated_errors": int(review.estimated_errors),
            "fitting_window": int(review.window),
            "estimator": review.estimator,
            "aum_mixture_errors": int(review.aum_mixture_errors),
            "confident_joint_errors": int(review.confident_joint_errors),
            "rank_by": rank_by,
            "verdict": (result.verdict.to_dict()
                        if getattr(result, "verdict", None) is not None
                        else None),
            "num_suggested_changes": int(
                (review.suggested != prepared.targets).sum()),
        },
        sample_ids=prepared.sample_ids,
        curvature=result.curvature,
        curvature_epochs=result.curvature_epochs,
        scored_epochs=result.scored_epochs,
        history=result.history,
        classes=prepared.classes,
        image_size=prepared.image_size,
        normalization=result.normalization,
        train_seconds=result.train_seconds,
        score_seconds=result.score_seconds,
    )
