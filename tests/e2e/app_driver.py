"""Drives the FiftyOne App in Debian's headless Chromium with Playwright
(what the end-to-end test and the README's pictures use)."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update",
    "--disable-sync",
]
PLUGIN = "@fiftyone-curvature/curvature"


def missing():
    """What the browser test needs and this machine lacks ("" if none)."""
    import importlib.util

    lacks = []
    if not os.path.isfile(CHROMIUM):
        lacks.append(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        lacks.append("playwright (pip install playwright)")
    return "; ".join(lacks)


def _pythonpath():
    """This checkout first, so that the App's server imports the package
    under test (not another installed copy)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    rest = os.environ.get("PYTHONPATH")
    return root + (os.pathsep + rest if rest else "")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """``fiftyone app launch DATASET`` on 127.0.0.1 in a subprocess.

    FiftyOne gives its server 60 s to bind; on a loaded 2-core machine that
    can run out, so a launch that exits early is tried again (``tries``).
    """

    def __init__(self, dataset_name, env=None, timeout=180, tries=2):
        self.url = None
        for attempt in range(tries):
            if self._launch(dataset_name, env, timeout):
                return
        raise RuntimeError(f"The App did not start (tried {tries} times; "
                           f"log: {self.log.name})")

    def _launch(self, dataset_name, env, timeout):
        self.port = free_port()
        exe = os.path.join(os.path.dirname(sys.executable), "fiftyone")
        self.log = open(os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                     f"fo-app-{self.port}.log"), "w")
        self.proc = subprocess.Popen(
            [exe, "app", "launch", dataset_name, "--remote", "--port",
             str(self.port), "--address", "127.0.0.1", "--wait", "-1"],
            stdout=self.log, stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONPATH=_pythonpath(), **(env or {})),
        )
        self.url = f"http://127.0.0.1:{self.port}/datasets/{dataset_name}"
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.url, timeout=5)
                return True
            except Exception:
                if self.proc.poll() is not None:
                    break
                time.sleep(1)
        self.stop()
        return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


class Page:
    """A browser page on the App with the steps a user takes."""

    def __init__(self, playwright, url, shots_dir, width=1600, height=1000):
        self.browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        self.page = self.browser.new_page(
            viewport={"width": width, "height": height})
        self.errors = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.console = []
        self.page.on("console", lambda m: self.console.append(
            (m.type, m.text)))
        #: operator executions the page asked for: (time, uri, method,
        #: params other than the panel state)
        self.calls = []
        self.page.on("request", self._record_call)
        self.url = url
        self.shots_dir = shots_dir
        os.makedirs(shots_dir, exist_ok=True)
        self.open()

    def _record_call(self, request):
        import json

        if "/operators/execute" not in request.url:
            return
        try:
            body = json.loads(request.post_data or "{}")
        except ValueError:
            return
        params = body.get("params") or {}
        self.calls.append((
            time.time(), body.get("operator_uri"), params.get("__method__"),
            {k: v for k, v in params.items()
             if k not in ("panel_state", "state", "__method__")}))

    def panel_calls(self, since=0.0, uri_part="curvature_panel"):
        """The panel's methods the page called after time ``since``."""
        return [m for t, uri, m, _ in self.calls
                if t >= since and uri and uri_part in uri]

    def panel_call_details(self, since=0.0, uri_part="curvature_panel"):
        """(seconds after ``since``, method, params) of the panel's calls
        after time ``since`` (to see what called it)."""
        return [(round(t - since, 2), m, p) for t, uri, m, p in self.calls
                if t >= since and uri and uri_part in uri]

    def open(self):
        import re

        self.page.goto(self.url, wait_until="load")
        self.page.get_by_text(re.compile(r"^[\d,]+ samples?$")).first \
            .wait_for(timeout=60_000)
        self.page.wait_for_timeout(2000)
        self.page.keyboard.press("Escape")

    def shot(self, name):
        path = os.path.join(self.shots_dir, f"{name}.png")
        self.page.screenshot(path=path)
        return path

    def close(self):
        self.browser.close()

    # ------------------------------------------------------------ grid

    def sample_count(self):
        """The "N samples" count above the grid (None before it shows)."""
        text = self.page.evaluate(
            """() => {
                const re = /^\\s*([\\d,]+)\\s+samples?\\s*$/;
                let best = null;
                for (const el of document.querySelectorAll('div, span, p')) {
                    const t = el.innerText || '';
                    if (t.length < 40 && re.test(t) &&
                        (best === null || t.length < best.length))
                        best = t;
                }
                return best;
            }""")
        return None if text is None else int(
            text.strip().split()[0].replace(",", ""))

    def wait_count(self, expected, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if self.sample_count() == expected:
                    return True
            except Exception:
                pass
            self.page.wait_for_timeout(500)
        return False

    def load_saved_view(self, name, current="Unsaved view", tries=3):
        """Picks saved view ``name`` in the views selector above the
        sidebar (which shows ``current``)."""
        for attempt in range(tries):
            try:
                self.page.get_by_text(current, exact=True).first.click(
                    timeout=20_000)
                self.page.wait_for_timeout(800)
                self.page.get_by_text(name, exact=True).last.click(
                    timeout=20_000)
                self.page.wait_for_timeout(1500)
                return
            except Exception:
                if attempt == tries - 1:
                    raise
                self.page.keyboard.press("Escape")
                self.page.wait_for_timeout(2000)

    def clear_saved_view(self, current):
        """Back to all samples: the cross beside the saved view's name."""
        name = self.page.get_by_text(current, exact=True).first
        name.locator("xpath=ancestor::*[.//*[name()='svg']][1]").locator(
            "svg").last.click()
        self.page.wait_for_timeout(1500)

    # ---------------------------------------------------------- sidebar

    def expand_field(self, name):
        """Clicks field ``name`` in the sidebar to open its filter."""
        field = self.page.get_by_text(name, exact=True).first
        field.scroll_into_view_if_needed()
        field.click()
        self.page.wait_for_timeout(2500)

    def drag_range_slider(self, fraction):
        """Drags the lower thumb of the open range slider in the sidebar
        ``fraction`` of the rail to the right (mouse down, moves, up, as a
        person drags it); returns the lower bound the slider then shows."""
        page = self.page
        thumbs = [page.locator(".MuiSlider-thumb").nth(i)
                  for i in range(page.locator(".MuiSlider-thumb").count())]
        # the sidebar's slider (the grid's zoom sliders are top right)
        thumbs = [t for t in thumbs if t.bounding_box()
                  and t.bounding_box()["x"] < 400]
        assert len(thumbs) == 2, "no range slider open in the sidebar"
        lower, upper = (t.bounding_box() for t in thumbs)
        x0 = lower["x"] + lower["width"] / 2
        y0 = lower["y"] + lower["height"] / 2
        span = upper["x"] - lower["x"]
        page.mouse.move(x0, y0)
        page.mouse.down()
        for k in range(1, 11):
            page.mouse.move(x0 + fraction * span * k / 10, y0)
            page.wait_for_timeout(50)
        page.mouse.up()
        page.wait_for_timeout(2500)
        return float(thumbs[0].locator("input").get_attribute("value"))

    def reset_filter(self):
        """The open filter's Reset button (clears that filter)."""
        self.page.get_by_text("Reset", exact=True).first.click()
        self.page.wait_for_timeout(2000)

    def filter_by_tag(self, tag):
        """Sample tags -> filter by ``tag`` (the grid then counts the
        tagged samples)."""
        self.expand_field("sample tags")
        box = self.page.get_by_placeholder("+ filter by sample tag").first
        box.click()
        box.type(tag, delay=50)
        self.page.wait_for_timeout(2000)
        self.page.get_by_text(tag, exact=True).last.click()
        self.page.wait_for_timeout(2000)

    # -------------------------------------------------------- operators

    def run_operator(self, label, fill=None, execute=True):
        """Opens the operator browser, picks ``label``, fills inputs (by
        their label) and executes immediately."""
        page = self.page
        page.keyboard.press("Escape")
        page.keyboard.press("`")
        page.wait_for_timeout(1500)
        page.keyboard.type(label, delay=30)
        page.wait_for_timeout(1000)
        page.get_by_text(label, exact=True).first.click()
        page.wait_for_timeout(2500)
        self.fill(fill)
        if execute:
            self.execute_now()

    def fill(self, fill):
        """Fills the open form's inputs, by their label."""
        page = self.page
        for field_label, value in (fill or {}).items():
            box = page.get_by_label(field_label, exact=True)
            if not box.count():
                box = page.locator(
                    f"xpath=//*[normalize-space(text())='{field_label}']"
                    "/following::input[1]")
            box.first.fill(str(value))
            page.wait_for_timeout(400)

    def execute_now(self):
        """Presses Execute, choosing immediate execution when the
        operator offers delegation first."""
        page = self.page
        execute = page.get_by_role("button", name="Execute", exact=True)
        if not execute.count():
            # "Schedule" first: the split button's menu offers Execute
            buttons = page.locator("button")
            texts = [buttons.nth(i).inner_text().strip()
                     for i in range(buttons.count())]
            buttons.nth(texts.index("Schedule") + 1).click()
            page.wait_for_timeout(800)
            page.get_by_text("Execute", exact=False).last.click()
            page.wait_for_timeout(800)
            execute = page.get_by_role("button", name="Execute", exact=True)
        execute.first.click()

    def wait_text(self, text, timeout=300):
        self.page.get_by_text(text, exact=False).first.wait_for(
            timeout=timeout * 1000)

    # ------------------------------------------------------------- panel

    def open_panel(self, label="Curvature"):
        page = self.page
        page.locator("[data-cy='new-panel-btn']").first.click()
        page.wait_for_timeout(800)
        page.get_by_text(label, exact=True).first.click()
        page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
        page.wait_for_timeout(3000)

    def plot_traces(self):
        return self.page.evaluate(
            """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
            .map(el => (el.data || []).map(t => [t.name, (t.x || []).length]))""")

    def wait_traces(self, done, timeout=60):
        """Waits until ``done(plot_traces())`` holds; returns whether it
        did."""
        for _ in range(timeout):
            if done(self.plot_traces()):
                return True
            self.page.wait_for_timeout(1000)
        return False

    def plot_widths(self):
        return [self.page.locator(".js-plotly-plot").nth(i).bounding_box()[
            "width"] for i in range(self.page.locator(".js-plotly-plot")
                                    .count())]

    def dropdown_value(self, values, timeout=60):
        """The value of the first dropdown showing one of ``values``."""
        for _ in range(timeout):
            combos = self.page.locator("[role='combobox']")
            for i in range(combos.count()):
                text = combos.nth(i).inner_text().strip()
                if text in values:
                    return text
            self.page.wait_for_timeout(1000)
        shown = [combos.nth(i).inner_text().strip()
                 for i in range(combos.count())]
        raise AssertionError(
            f"No dropdown shows one of {values}; the dropdowns show {shown}")

    def choose(self, current, option, settle=4000):
        """Picks ``option`` in the dropdown currently showing ``current``;
        returns the time of the click (then waits ``settle`` ms)."""
        combos = self.page.locator("[role='combobox']")
        for i in range(combos.count()):
            if combos.nth(i).inner_text().strip() == current:
                combos.nth(i).click()
                self.page.wait_for_timeout(500)
                option = self.page.get_by_role("option", name=option,
                                               exact=True)
                option.wait_for(timeout=10_000)
                clicked = time.time()
                option.click()
                self.page.wait_for_timeout(settle)
                return clicked
        raise AssertionError(f"No dropdown shows {current!r}")

    def click_button(self, name):
        """Clicks the button named ``name``; returns the time of the
        click."""
        button = self.page.get_by_role("button", name=name, exact=True)
        button.first.wait_for(timeout=10_000)
        clicked = time.time()
        button.first.click()
        return clicked

    def has_button(self, name):
        return self.page.get_by_role("button", name=name,
                                     exact=True).count() > 0

    def dropdown_options(self, current):
        """The options of the dropdown showing ``current`` (opened and
        closed again)."""
        combos = self.page.locator("[role='combobox']")
        for i in range(combos.count()):
            if combos.nth(i).inner_text().strip() == current:
                combos.nth(i).click()
                self.page.wait_for_timeout(800)
                options = self.page.get_by_role("option")
                names = [options.nth(k).inner_text().strip()
                         for k in range(options.count())]
                self.page.keyboard.press("Escape")
                self.page.wait_for_timeout(500)
                return names
        raise AssertionError(f"No dropdown shows {current!r}")

    def has_text(self, text):
        return self.page.get_by_text(text, exact=False).count() > 0

    def field_checked(self, name):
        """Whether the sidebar's checkbox of field ``name`` is ticked (None
        when the field or its checkbox is not found)."""
        return self.page.evaluate(
            """(name) => {
                const els = Array.from(document.querySelectorAll('*'))
                    .filter(e => e.children.length === 0 &&
                            (e.textContent || '').trim() === name);
                for (const el of els) {
                    let node = el;
                    for (let k = 0; k < 6 && node; k++) {
                        const box = node.querySelector &&
                            node.querySelector("input[type='checkbox']");
                        if (box) return box.checked;
                        node = node.parentElement;
                    }
                }
                return null;
            }""", name)


def copy_shots(shots_dir, dest, names):
    """Copies the named screenshots to ``dest`` (the README's pictures)."""
    os.makedirs(dest, exist_ok=True)
    for name in names:
        shutil.copy(os.path.join(shots_dir, f"{name}.png"),
                    os.path.join(dest, f"{name}.png"))
