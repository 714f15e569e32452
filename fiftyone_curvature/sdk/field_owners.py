"""Which operation created a sample field, recorded by identity: relabel
and import_reference replace only a field their own kind created.

A record lives in ``dataset.info["fiftyone_curvature_fields"]``: field name
-> ``{"created_by": kind, "created_at": ...}`` where ``created_at`` is the
field's own creation time in FiftyOne's schema. A field deleted and made
again under the same name (by the user, or another run) has another
creation time, so the record no longer matches it: the name alone never
makes a field ours.
"""

#: the ``dataset.info`` entry holding the records
INFO_KEY = "fiftyone_curvature_fields"


def _identity(dataset, field):
    """The creation time of ``field`` (ms, ISO), or None when unknown."""
    created = getattr(dataset.get_field(field), "created_at", None)
    return None if created is None else created.isoformat(
        timespec="milliseconds")


def created_by(dataset, field, kind):
    """Whether sample field ``field`` of ``dataset`` is the very field an
    operation of ``kind`` (e.g. ``"relabel"``) recorded as created."""
    if field not in dataset.get_field_schema():
        return False
    entry = (dataset.info or {}).get(INFO_KEY, {}).get(field)
    if not isinstance(entry, dict) or entry.get("created_by") != kind:
        return False
    identity = _identity(dataset, field)
    return identity is not None and entry.get("created_at") == identity


def record(dataset, field, kind):
    """Records that an operation of ``kind`` just created ``field``
    (records of fields that no longer exist are dropped)."""
    dataset.reload()  # the creation time as stored
    schema = dataset.get_field_schema()
    records = {name: entry for name, entry in
               dict((dataset.info or {}).get(INFO_KEY, {})).items()
               if name in schema}
    records[field] = {"created_by": kind,
                      "created_at": _identity(dataset, field)}
    dataset.info[INFO_KEY] = records
    dataset.save()


def check_replaceable(dataset, field, kind, overwrite):
    """Raises ValueError unless ``field`` is free, or ``overwrite`` is True
    and an earlier operation of ``kind`` created it (see
    :func:`created_by`); a field of the user or of a run is never
    replaced."""
    if field not in dataset.get_field_schema():
        return
    if not overwrite:
        raise ValueError(
            f"Field {field!r} exists; choose another name (or "
            f"overwrite=True for a field an earlier {kind} created)")
    if not created_by(dataset, field, kind):
        raise ValueError(
            f"Field {field!r} exists and was not created by an earlier "
            f"{kind} (it is yours or another run's); it is never replaced, "
            "even with overwrite=True: choose another name")
