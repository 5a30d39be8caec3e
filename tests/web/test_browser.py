"""The owner pages in a real browser: Debian's headless Chromium driven by Playwright, against a real
server over the demo's data. An owner signs in with a token, changes an agent's profile and sees the
change in its history with every chart drawn; an administrator unfreezes the agent the demo froze.

Full-page screenshots of the agent page and the fleet page are kept in `test-artifacts/` (agent-page.png, fleet-page.png).
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from adapters.bootstrap import Config, bootstrap
from adapters.cli.demo import run_demo
from adapters.web.api_tokens import TokenStore
from adapters.web.app import create_app

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("AGENT_LEARNING_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHARTS = ["traits", "reward-sentiment", "epsilon", "feedback-volume", "recalculations"]


class Server:
    """The app under uvicorn in a thread, on a port of its own on the loopback."""

    def __init__(self, home: Path):
        self.home = home
        self.tokens = TokenStore.in_home(home)
        app = create_app(lambda: bootstrap(Config(home=home)), tokens=self.tokens)
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:  # uvicorn sets it once it accepts connections
            assert self.thread.is_alive() and time.monotonic() < deadline, "the web server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        if self.thread.is_alive():
            # Left running, its loop would keep its AnyIO worker threads (not daemons) waiting, and
            # the interpreter would wait for them at exit, after pytest's summary.
            self.server.force_exit = True
            self.thread.join(5)
        self.socket.close()
        self.tokens.close()
        assert not self.thread.is_alive(), "the web server did not stop within 20 s"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("browser") / "home"
    system = bootstrap(Config(home=home))
    try:
        assert run_demo(system, quiet=True) == 0
    finally:
        system.close()
    with Server(home) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), (
        f"{CHROMIUM} is missing: install Debian's browser with `apt-get install -y chromium` (.ci/run does it)"
    )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    opened = context.new_page()
    yield opened
    context.close()


def _sign_in(page, server: Server, token: str, path: str) -> None:
    page.goto(f"{server.url}{path}")
    assert page.url.startswith(f"{server.url}/login")
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_an_owner_signs_in_changes_the_profile_and_sees_it_in_the_history_and_charts(server, page):
    token = server.tokens.create(owner_id="owner-1")
    _sign_in(page, server, token, "/agents")
    assert page.url == f"{server.url}/agents"
    assert page.locator("#agents tr[data-agent]").evaluate_all("rows => rows.map(r => r.dataset.agent)") == [
        "aria",
        "sage",
    ]  # owner-1's agents only

    page.click("a[href='/agents/aria']")
    assert page.url == f"{server.url}/agents/aria"
    assert page.locator("select[name=profile]").input_value() == "fast"  # what the demo configured
    page.select_option("select[name=profile]", "conservative")
    page.click("#learning-config button[type=submit]")
    page.wait_for_load_state()

    newest = page.locator("#history tr[data-type]").first
    assert newest.get_attribute("data-type") == "LearningConfigured"
    assert "learning configured: profile conservative" in newest.inner_text()
    assert page.locator("select[name=profile]").input_value() == "conservative"

    for chart in CHARTS:
        svg = page.locator(f"svg.chart[data-chart='{chart}']")
        assert svg.count() == 1, chart
        assert svg.locator("polyline, rect, circle").count() > 0, chart
        box = svg.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 50, (chart, box)
    assert page.locator("svg.chart[data-chart='traits'] rect.bounds").count() == 6
    assert page.locator("svg.chart[data-chart='reward-sentiment'] line.threshold").count() == 1

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "agent-page.png"), full_page=True)


def test_an_administrator_unfreezes_the_agent_the_demo_froze(server, page):
    token = server.tokens.create(admin=True)
    _sign_in(page, server, token, "/agents/blaze")
    assert page.url == f"{server.url}/agents/blaze"
    assert "updates frozen" in page.locator("#summary").inner_text()
    assert page.locator("svg.chart[data-chart='traits'] line.freeze").count() > 0  # the freeze is marked

    page.fill("#admin input[name=reason]", "reviewed the complaints")
    page.click("#admin button[type=submit]")
    page.wait_for_load_state()

    assert "learning" in page.locator("#summary").inner_text()
    assert "updates frozen" not in page.locator("#summary").inner_text()
    newest = page.locator("#history tr[data-type]").first
    assert newest.get_attribute("data-type") == "UpdatesUnfrozen"
    assert "by admin: reviewed the complaints" in newest.inner_text()
    page.goto(f"{server.url}/agents")
    assert "learning" in page.locator("#agents tr[data-agent='blaze']").inner_text()


def test_an_administrator_sees_the_fleet_and_an_owner_is_refused(server, page, monkeypatch):
    from adapters.cli.main import main

    trainer = f"{sys.executable} {ROOT / 'docs/examples/unigram_trainer.py'} {{dataset}} {{output}}"
    monkeypatch.setenv("AGENT_LEARNING_TRAINER", "command")
    monkeypatch.setenv("AGENT_LEARNING_TRAINER_COMMAND", trainer)
    home = str(server.home)
    assert main(["--home", home, "jobs", "run", "daily", "--now", "2026-12-01T20:00:00Z"]) == 0
    assert main(["--home", home, "jobs", "run", "weekly", "--now", "2026-12-01T21:00:00Z"]) == 0

    owner = server.tokens.create(owner_id="owner-1")
    _sign_in(page, server, owner, "/fleet")
    assert page.goto(f"{server.url}/fleet").status == 403

    page.context.clear_cookies()
    _sign_in(page, server, server.tokens.create(admin=True), "/fleet")
    assert page.url == f"{server.url}/fleet"
    rows = page.locator("#fleet-agents tr[data-agent]").evaluate_all("rows => rows.map(r => r.dataset.agent)")
    assert rows == ["aria", "atlas", "blaze", "sage"]
    for chart in (
        "freezes",
        "triggers",
        "sentiment",
        "trait-distribution",
        "dead-letters",
        "training-jobs",
        "registry-moves",
    ):
        svg = page.locator(f"svg.chart[data-chart='{chart}']")
        assert svg.count() == 1, chart
        box = svg.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 50, (chart, box)
    assert page.locator("svg.chart[data-chart='training-jobs'] rect.job[data-status='completed']").count() == 2
    assert page.locator("svg.chart[data-chart='registry-moves'] circle.move[data-action='promote']").count() == 2
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "fleet-page.png"), full_page=True)
