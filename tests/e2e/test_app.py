"""The App as a person uses it, in headless Chromium (slow; CI installs
Debian's chromium and Playwright, see .ci/run).

One digits dataset, one App server, one browser page, the steps in order:
compute from the operator browser (immediate) until its completion
message, the new fields in the sidebar, each saved view with its count,
the curvature slider in the sidebar (the grid's count follows the bound
dragged to), tag_for_relabel and the tagged samples' count, the Curvature
panel (every plot at least half the panel wide, a run switch shows the
new run's traces only, a known-bad field's ROC survives a resize), and no
uncaught page error. Every step saves a screenshot to
$E2E_SCREENSHOTS (default: a temporary folder); the README's pictures are
made by ``E2E_SCREENSHOTS=docs/images .venv/bin/python -m pytest
tests/e2e``.
"""

import os

import pytest
from fiftyone import ViewField as F

from .app_driver import AppServer, Page, missing

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app(digits_maker, tmp_path_factory):
    lacks = missing()
    if lacks:
        pytest.skip(f"the browser test needs {lacks}")
    import fiftyone_curvature as fc

    dataset = digits_maker(n=400, noise=0.1)
    dataset.persistent = True
    # a second run to switch to in the panel
    fc.evaluate_corruption(dataset, "ground_truth", epochs=3,
                           progress=False)
    server = AppServer(dataset.name)
    shots = os.environ.get("E2E_SCREENSHOTS") or str(
        tmp_path_factory.mktemp("screenshots"))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        page = Page(playwright, server.url, shots)
        try:
            yield dataset, page
        finally:
            page.close()
            server.stop()
            dataset.delete()


def test_workflow_in_the_browser(app):
    dataset, page = app
    assert page.sample_count() == 400
    page.shot("01_grid")

    # compute from the operator browser, immediately, to its end message
    page.run_operator("Curvature: compute", {"Epochs": 4}, execute=False)
    page.shot("02_compute_form")
    page.execute_now()
    page.wait_text("Done: run 'curvature'", timeout=600)
    page.shot("03_compute_done")
    dataset.reload()
    assert "curvature" in dataset.list_brain_runs()

    # the fields show in the sidebar
    page.page.keyboard.press("Escape")
    for field in ("curvature_suggested_label", "curvature_memorization"):
        # the dataset reloads when the run ends: the fields appear then
        page.page.get_by_text(field, exact=True).first.wait_for(
            timeout=120_000)

    # each saved view opens from the views selector with its count
    current = "Unsaved view"
    for name in ("curvature_top_memorized", "curvature_likely_mislabeled",
                 "curvature_long_tail"):
        expected = len(dataset.load_saved_view(name))
        page.load_saved_view(name, current=current)
        assert page.wait_count(expected, timeout=60), (
            name, expected, page.sample_count())
        page.shot(f"04_view_{name}")
        current = name

    # back to all samples (the App keeps the last saved view)
    page.clear_saved_view(current)
    assert page.wait_count(400, timeout=60)

    # filter by curvature with the sidebar slider (an indexed field: a
    # slider even with Query Performance on): the grid counts the samples
    # at or above the bound the slider shows
    page.expand_field("curvature")
    bound = page.drag_range_slider(0.1)
    expected = len(dataset.match(F("curvature") >= bound))
    assert 0 < expected < 400, (bound, expected)
    assert page.wait_count(expected, timeout=60), (
        bound, expected, page.sample_count())
    page.page.wait_for_timeout(3000)  # the grid's images
    page.shot("05_slider")
    page.reset_filter()
    assert page.wait_count(400, timeout=60)

    # tag for relabeling: the top 10; filtering by the tag shows 10
    page.run_operator("Curvature: tag for relabeling", {"k": 10})
    page.wait_text("Tagged 10", timeout=120)
    dataset.reload()
    assert len(dataset.match_tags("relabel")) == 10
    page.page.keyboard.press("Escape")
    page.filter_by_tag("relabel")
    assert page.wait_count(10, timeout=60), page.sample_count()
    page.shot("06_tagged")
    page.reset_filter()
    assert page.wait_count(400, timeout=60)

    # the panel: plots at least half its width; a run switch shows the
    # new run's traces only
    page.page.wait_for_timeout(2000)
    page.open_panel()
    page.page.wait_for_timeout(3000)
    page.page.get_by_text("Reset view", exact=True).first.click()
    assert page.wait_count(400, timeout=60)
    page.page.wait_for_timeout(4000)
    page.shot("07_panel")
    widths = page.plot_widths()
    panel = page.page.get_by_text("Finite-difference input-loss curvature",
                                  exact=False).first.bounding_box()
    assert widths and min(widths) >= 0.5 * panel["width"], widths
    before = page.plot_traces()
    current = page.dropdown_value(("curvature", "curvature_eval"))
    other = "curvature" if current == "curvature_eval" else "curvature_eval"
    page.choose(current, other)
    # the panel recomputes its summary and plots for the new run
    summary = ("Run " if other == "curvature" else "Evaluation ") + other
    page.wait_text(summary + ":", timeout=180)
    for _ in range(60):
        after = page.plot_traces()
        if after != before:
            break
        page.page.wait_for_timeout(1000)
    page.page.wait_for_timeout(2000)
    after = page.plot_traces()
    names = {t[0] for plot in after for t in plot}
    if other == "curvature":
        # a plain run: no ROC, no corrupted trace, every sample once
        assert "corrupted" not in names and len(after) == 3, after
        assert after[-1] == [["samples", 400]], after
    else:
        assert "corrupted" in names and len(after) == 4, after
    page.shot("08_panel_switched")

    if other == "curvature":
        # a known-bad field on the plain run: the ROC appears; the choice
        # survives a resize of the window (it was lost once)
        page.choose("(none)", "flipped")
        assert page.wait_traces(lambda p: len(p) == 4), page.plot_traces()
        page.page.set_viewport_size({"width": 1280, "height": 900})
        page.page.wait_for_timeout(4000)
        assert page.dropdown_value(("flipped",), timeout=30) == "flipped"
        assert page.wait_traces(lambda p: len(p) == 4), page.plot_traces()
        page.shot("09_known_bad_after_resize")
        page.page.set_viewport_size({"width": 1600, "height": 1000})

    # no uncaught page error, except FiftyOne's own "entry is loading"
    # (a state entry read while it loads; seen here on a loaded machine when
    # the grid reloads under an open panel, never from the panel's code)
    unexpected = [e for e in page.errors if e != "entry is loading"]
    assert unexpected == [], page.errors
    assert len(page.errors) <= 3, page.errors
