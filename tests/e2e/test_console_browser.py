"""The console in a real browser (Debian's chromium driven by Playwright) on `make run`'s
stack (tests/e2e/conftest.py: `ruta init`, `ruta demo`, `ruta serve`): the focal point fires
a step, the institution officer sees the new task and completes it, the manager's
compliance page counts it. Screenshots of each page land in test-artifacts/ to be looked at.
"""

from __future__ import annotations

import shutil
import time
from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import VAULT
from tests.e2e.conftest import GROUP, Stack, stack_database
from workflows.domain.access import Actor
from workflows.domain.clocks import SystemClock
from workflows.domain.ports import Services
from workflows.services import cases
from workflows.store.uow import SqlUnitOfWork

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (make install installs it)"
)


@pytest.fixture
def stack(make_run: Stack):
    """The shared stack, and a fresh case in it: (console URL, demo passwords, ref, services)."""
    engine = stack_database(make_run)
    svc = Services(lambda: SqlUnitOfWork(engine, VAULT), SystemClock(), make_run.registry)
    ref = cases.open_case(
        svc,
        make_run.registry.latest_published("CO-TRATA"),
        {"jurisdiction": "CO-NAR-52356", "minor": False, "nationality": "VE"},
        Actor.system("e2e"),
        person={"given_name": "Synthia", "family_name": "Testperson (sintético)"},
    )
    yield make_run.url, make_run.passwords, ref, svc
    engine.dispose()


def sign_in(page, url: str, user: str, password: str, path: str = "") -> None:
    page.goto(f"{url}/{path}")
    page.locator(".st-key-sign_in_user input").fill(user)
    page.locator(".st-key-sign_in_password input").fill(password)
    page.locator("[data-testid='stFormSubmitButton'] button").click()
    page.locator(".st-key-sign_out").wait_for(timeout=20_000)


def sign_out(page) -> None:
    page.locator(".st-key-sign_out button").click()
    page.locator(".st-key-sign_in_user").wait_for(timeout=20_000)


def choose(page, key: str, index: int) -> None:
    """Pick an option of a selectbox (the page may re-render right after it loads)."""
    for _attempt in range(10):
        page.locator(f".st-key-{key} input").click()
        options = page.get_by_role("option")
        try:
            options.nth(index).wait_for(timeout=2000)
        except Exception:  # the dropdown closed on a re-render: open it again
            continue
        options.nth(index).click()
        return
    raise AssertionError(f"the options of {key} never opened")


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_timeout(1500)  # let charts and diagrams draw
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@GROUP
def test_focal_point_officer_and_manager_in_a_real_browser(stack):
    from playwright.sync_api import sync_playwright

    url, passwords, ref, svc = stack
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="es-CO")
        page.set_default_timeout(20_000)

        # The focal point opens the case from an email-style link and fires a step.
        page.goto(url)
        shoot(page, "01-sign-in")
        sign_in(page, url, "fp.colombia", passwords["fp.colombia"], f"?case={ref}")
        fire = page.locator(".st-key-fire_care_case_registered button")
        fire.wait_for()
        shoot(page, "02-case-page")
        fire.click()
        page.locator(".st-key-fire_care_case_registered").wait_for(state="detached")
        case = cases.load_case(svc, ref, Actor.system("e2e"))
        assert case.tracks["care"].state == "identification"
        page.locator(".st-key-cases_back button").click()
        shoot(page, "03-case-list")
        sign_out(page)

        # The Narino committee sees the new task in its inbox and completes it.
        sign_in(page, url, "of.comite", passwords["of.comite"], f"?case={ref}")
        page.locator(".st-key-inbox_complete_submit").wait_for()
        shoot(page, "04-inbox-task")
        choose(page, "inbox_outcome_modality", 1)  # external
        page.locator(".st-key-inbox_outcome_victim_abroad [role=radiogroup] label").nth(1).click()
        page.locator(".st-key-inbox_complete_submit button").click()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            task = cases.load_case(svc, ref, Actor.system("e2e")).task("characterise_case")
            if task is not None and task.status == "completed":
                break
            page.wait_for_timeout(500)
        assert task is not None
        assert task.status == "completed"
        assert task.outcome == {"modality": "external", "victim_abroad": False}
        shoot(page, "05-inbox-after")
        sign_out(page)

        # The manager's compliance page counts the completion.
        sign_in(page, url, "mg.regional", passwords["mg.regional"])
        page.locator(
            "[data-testid='stVegaLiteChart'], [data-testid='stArrowVegaLiteChart']"
        ).first.wait_for()
        shoot(page, "06-compliance")
        assert "characterise" in page.content().lower() or "caracterizar" in page.content().lower()
        sign_out(page)

        # Protocols and the directory, for the screenshots (and that they render).
        sign_in(page, url, "ad.ruta", passwords["ad.ruta"])
        shoot(page, "07-institutions")
        page.get_by_role("link").filter(has_text="Protoc").first.click()
        page.locator("[data-testid='stGraphVizChart']").first.wait_for()
        shoot(page, "08-protocols")
        browser.close()
    assert svc.clock.now() - case.opened_at < timedelta(hours=1)
