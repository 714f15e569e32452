"""One progress reporter for every run: a bar, a callback, or nothing."""

from tqdm.auto import tqdm

import fiftyone as fo

#: share of the whole run's progress given to reading images, and to
#: writing fields at the end
LOAD_SHARE = 0.05


class Progress:
    """Turns a run's events into a progress bar or callback dicts.

    Args:
        progress: ``None`` (a bar when ``fo.config.show_progress_bars``),
            ``True`` (a bar), ``False`` (nothing), or a callable receiving a
            dict per event: ``phase`` (``"load"`` while images are read,
            ``"epoch"`` after each epoch, then ``"write"`` or another
            phase name), ``fraction`` (0-1 of the whole run); ``done`` and
            ``total`` for "load"; for "epoch" what
            :func:`fiftyone_curvature.train_and_track` reports (``epoch``,
            ``epochs``, ``eta``, ``train_loss``, ``train_accuracy``) plus
            ``seed``, ``seed_index`` and ``seeds``
        epochs: training epochs per seed
        seeds ((None,)): the seeds trained one after another
    """

    def __init__(self, progress, epochs, seeds=(None,)):
        self.callback = progress if callable(progress) else None
        self.epochs = epochs
        self.seeds = list(seeds)
        self.index = 0
        self.bar = None
        if self.callback is None:
            show = progress
            if show is None:

                show = fo.config.show_progress_bars
            if show:

                self.bar = tqdm(total=epochs * len(self.seeds), unit="epoch",
                                dynamic_ncols=True)

    def __enter__(self):
        return self

    def __exit__(self, *args):
        if self.bar is not None:
            self.bar.close()

    def start_seed(self, index):
        """The run of the ``index``-th seed starts."""
        self.index = index

    def _emit(self, info):
        if self.callback is not None:
            self.callback(info)

    def on_load(self, done, total):
        if self.bar is not None:
            self.bar.set_description(f"reading images {done}/{total}")
        self._emit({
            "phase": "load",
            "fraction": round(LOAD_SHARE * done / max(total, 1), 4),
            "done": done,
            "total": total,
        })

    def on_epoch(self, info):
        done = self.index * self.epochs + info["epoch"]
        total = self.epochs * len(self.seeds)
        seed = self.seeds[self.index]
        if self.bar is not None:
            epoch = f"epoch {info['epoch']}/{info['epochs']}"
            self.bar.set_description(
                epoch if seed is None else f"seed {seed}, {epoch}")
            self.bar.set_postfix(loss=f"{info.get('train_loss', 0):.3f}",
                                 acc=f"{info.get('train_accuracy', 0):.3f}")
            self.bar.update(done - self.bar.n)
        info = dict(info)
        info.update(
            phase="epoch",
            seed=seed,
            seed_index=self.index,
            seeds=len(self.seeds),
            fraction=round(
                LOAD_SHARE + (1 - 2 * LOAD_SHARE) * done / total, 4),
        )
        self._emit(info)

    def on_phase(self, phase):
        """A named phase after the current seed's training (``"write"``,
        ``"duplicates"``)."""
        if self.bar is not None:
            self.bar.set_description(phase)
        done = (self.index + 1) / len(self.seeds)
        self._emit({"phase": phase, "fraction": round(
            LOAD_SHARE + (1 - 2 * LOAD_SHARE) * done, 4)})
