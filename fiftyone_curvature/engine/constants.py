"""Defaults and vocabularies shared by the engine, sdk, app and cli (pure
Python: the App's forms and the CLI read them without importing torch).

The options of a training run are :class:`fiftyone_curvature.engine.config
.TrackingConfig`'s fields; what is here is everything else that more than
one layer states.
"""

#: the default run key: the curvature field, the prefix of every other
#: field and saved view of a run
RUN_KEY = "curvature"
#: the default key of an evaluation run
EVAL_KEY = "curvature_eval"
#: working resolution: images are resized so that their longer side is at
#: most this (smaller images keep their size)
IMAGE_SIZE = 32
#: the smallest image side a network can train on
MIN_SIDE = 4

#: what "memorized" means for the saved views by default (``rank_by``):
#: AUM, the score whose views found the flipped labels best in every
#: benchmark (digits; CIFAR-10 symmetric and asymmetric noise; from
#: scratch and on pretrained features; docs/quality.md, docs/features.md);
#: curvature is always written and selectable with ``rank_by="curvature"``
RANK_BY = "aum"

#: fraction of labels an evaluation flips
NOISE = 0.1
#: kinds of injected label noise (see
#: :func:`fiftyone_curvature.engine.noise.inject_noise`)
NOISE_KINDS = ("symmetric", "asymmetric")

#: nearest neighbours searched per sample: label conflicts among
#: embeddings (:mod:`fiftyone_curvature.engine.neighbors`) and candidate
#: pairs of the near-duplicate search
#: (:mod:`fiftyone_curvature.engine.near_duplicates`)
NEIGHBORS = 10

#: ``score_every="auto"``: the rise of the training accuracy since the last
#: scored epoch that triggers scoring
SCORE_RISE = 0.01
#: ``score_every="auto"``: the longest stretch of unscored epochs plus one
SCORE_GAP = 8

#: field names FiftyOne reserves or a run must never take as its key
RESERVED_FIELDS = ("id", "_id", "filepath", "tags", "metadata",
                   "media_type", "frames", "sample_id", "created_at",
                   "last_modified_at", "group", "dataset_id")
