"""What a user owns on a dataset, captured so a test can assert that an
operation changed none of it.

:func:`fingerprint` records the sample fields (schema and every stored
value, label ids included), tags, saved views (name, stages, description)
and brain runs (config and results) that are not the operation's own;
:func:`unchanged` asserts it is the same after a block.
"""

import contextlib
import json

from bson import json_util


def _runs_fields(dataset, keys):
    """The output fields of the runs ``keys`` (theirs to change)."""
    fields = set()
    for key in keys:
        if key in dataset.list_brain_runs():
            config = dataset.get_brain_info(key).config
            outputs = getattr(config, "output_fields", None)
            if callable(outputs):
                fields.update(outputs())
    return fields


def fingerprint(dataset, runs=(), fields=(), views=()):
    """A comparable snapshot of what the user owns on ``dataset``.

    Args:
        dataset: a ``fo.Dataset``
        runs (()): brain run keys the operation may change (left out,
            with their output fields, their views and their own saved
            views)
        fields (()): other field names the operation may write
        views (()): saved view names the operation may write

    Returns:
        a dict: ``schema``, ``samples`` (id -> stored document of the
        user's fields, ``last_modified_at`` left out), ``views`` (name ->
        stages and description), ``runs`` (key -> config and results)
    """
    dataset.reload()
    # a run's duplicate search is recorded as the run "<key>_duplicates"
    runs = list(runs) + [f"{key}_duplicates" for key in runs]
    skip_fields = set(fields) | _runs_fields(dataset, runs)
    skip_views = set(views)
    for key in runs:
        if key in dataset.list_brain_runs():
            config = dataset.get_brain_info(key).config
            skip_views.update(getattr(config, "views", None) or [])
            if getattr(config, "view", None):
                skip_views.add(config.view)
    schema = {
        name: _describe(field) for name, field in
        dataset.get_field_schema().items() if name not in skip_fields
    }
    keep = set(schema) - {"last_modified_at"}
    samples = {}
    for doc in dataset._sample_collection.find({}):
        samples[str(doc["_id"])] = json_util.dumps(
            {k: v for k, v in sorted(doc.items())
             if k in keep or (k == "_id")}, sort_keys=True)
    saved = {}
    for info in dataset.list_saved_views(info=True):
        name = info["name"]
        if name in skip_views:
            continue
        view = dataset.load_saved_view(name)
        saved[name] = (json.dumps(view._serialize(include_uuids=False),
                                  sort_keys=True, default=str),
                       info.get("description"))
    run_docs = {}
    for key in dataset.list_brain_runs():
        if key in runs:
            continue
        doc = dataset._doc.brain_methods[key]
        results = dataset.load_brain_results(key, cache=False)
        run_docs[key] = (json_util.dumps(doc.config, sort_keys=True),
                         json_util.dumps(results.serialize(), sort_keys=True)
                         if results is not None else None)
    return {"schema": schema, "samples": samples, "views": saved,
            "runs": run_docs,
            "evaluations": sorted(dataset.list_evaluations())}


def _describe(field):
    """A field's declaration: type, document / element type, description
    and info."""
    doc = getattr(field, "document_type", None)
    sub = getattr(field, "field", None)
    return (type(field).__name__, getattr(doc, "__name__", None),
            type(sub).__name__ if sub is not None else None,
            field.description, json.dumps(field.info, sort_keys=True,
                                          default=str))


def diff(before, after):
    """Human-readable differences between two fingerprints."""
    out = []
    for part in ("schema", "views", "runs"):
        b, a = before[part], after[part]
        for name in sorted(set(b) | set(a)):
            if b.get(name) != a.get(name):
                what = ("removed" if name not in a else
                        "added" if name not in b else "changed")
                out.append(f"{part} {name!r} {what}")
    b, a = before["samples"], after["samples"]
    changed = [i for i in set(b) | set(a) if b.get(i) != a.get(i)]
    if changed:
        out.append(f"{len(changed)} sample(s) changed, e.g. "
                   f"{b.get(changed[0])} -> {a.get(changed[0])}")
    if before["evaluations"] != after["evaluations"]:
        out.append("evaluations changed")
    return out


@contextlib.contextmanager
def unchanged(dataset, runs=(), fields=(), views=()):
    """Asserts that the block leaves everything the user owns on
    ``dataset`` as it was (see :func:`fingerprint` for what the block may
    change), whether it raises or not."""
    before = fingerprint(dataset, runs, fields, views)
    try:
        yield before
    finally:
        after = fingerprint(dataset, runs, fields, views)
        problems = diff(before, after)
        assert not problems, "; ".join(problems)
