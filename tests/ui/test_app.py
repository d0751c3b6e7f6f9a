"""Sign-in, the menu by role, sign-out, the idle timeout, the lockout."""

from __future__ import annotations

from datetime import timedelta

from tests.ui.conftest import PASSWORD


def test_signed_out_the_console_asks_to_sign_in(console):
    at = console().run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"]


def test_signing_in_with_the_right_password_opens_the_role_s_first_page(console):
    at = console().run()
    at.text_input(key="sign_in_user").input("off.ipiales")
    at.text_input(key="sign_in_password").input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception
    assert at.session_state["user"].username == "off.ipiales"
    assert at.title[0].value == "Inbox"


def test_a_wrong_password_is_refused_and_five_lock_the_account(console):
    at = console().run()
    for _ in range(5):
        at.text_input(key="sign_in_user").input("fp.co")
        at.text_input(key="sign_in_password").input("wrong password!")
        at.button[0].click().run()
    refused = at.error[0].value
    assert refused.startswith("Sign-in refused: wrong user name or password")
    at.text_input(key="sign_in_password").input(PASSWORD)
    at.button[0].click().run()
    assert at.error[0].value == refused  # even the right password, until the lock ends
    assert "user" not in at.session_state
    at.text_input(key="sign_in_user").input("nobody.here")  # the same answer: no name told
    at.button[0].click().run()
    assert at.error[0].value == refused


def test_the_menu_lands_each_role_on_its_page(console):
    for persona, title in [
        ("fp.co", "Cases"),
        ("off.ipiales", "Inbox"),
        ("mgr.co", "Compliance"),
        ("admin", "Institutions"),
    ]:
        at = console(persona).run()
        assert not at.exception, persona
        assert at.title[0].value == title, persona


def test_after_30_idle_minutes_the_user_is_signed_out(console, console_svc):
    at = console().run()  # signed in through the form (AppTest re-applies injected state)
    at.text_input(key="sign_in_user").input("mgr.co")
    at.text_input(key="sign_in_password").input(PASSWORD)
    at.button[0].click().run()
    assert at.title[0].value == "Compliance"
    console_svc.clock.advance(timedelta(minutes=31))
    at.run()
    assert "user" not in at.session_state
    assert "30 minutes" in at.info[0].value


def test_the_console_speaks_spanish_by_default(console):
    at = console(locale="es").run()
    assert at.button[0].label == "Ingresar"
