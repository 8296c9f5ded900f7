"""Sign-in and CSRF, over HTTP without a browser: the session cookie's flags, forms refused
without their token, pages refused without a session, French and English."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.api.main import create_app
from services.review.models import ReviewPost
from shared.config import Settings
from tests.web.conftest import PASSWORD, Desk

pytestmark = pytest.mark.kafka


@pytest.fixture
def client(kafka_settings: Settings, engine) -> Iterator[TestClient]:
    with TestClient(
        create_app(kafka_settings), raise_server_exceptions=False, follow_redirects=False
    ) as client:
        yield client


def csrf_in(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field in the form"
    return match.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD):
    page = client.get("/app/login")
    return client.post(
        "/app/login",
        data={
            "email": email,
            "password": password,
            "csrf": csrf_in(page.text),
            "next": "/app/queue",
        },
    )


def test_pages_need_a_session(client, web_desk: Desk):
    answer = client.get("/app/queue")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/app/login?next=")


def test_sign_in_sets_an_httponly_samesite_session_cookie(client, web_desk: Desk):
    answer = sign_in(client, web_desk.email)
    assert answer.status_code == 303 and answer.headers["location"] == "/app/queue"
    cookie = [h for h in answer.headers.get_list("set-cookie") if h.startswith("tamtam_session=")][
        0
    ]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    queue = client.get("/app/queue")
    assert queue.status_code == 200 and "File de relecture" in queue.text
    assert '<mark title="« pas cher » est proscrit">pas cher</mark>' in queue.text


def test_a_wrong_password_or_a_missing_token_is_refused(client, web_desk: Desk):
    assert sign_in(client, web_desk.email, "not the password").status_code == 401
    assert sign_in(client, "nobody@agence.test").status_code == 401
    client.get("/app/login")
    forged = client.post(
        "/app/login", data={"email": web_desk.email, "password": PASSWORD, "csrf": "guess"}
    )
    assert forged.status_code == 403


def test_a_form_without_the_sessions_csrf_token_changes_nothing(client, web_desk: Desk, session):
    sign_in(client, web_desk.email)
    for token in ("", "forged-token"):
        answer = client.post(
            f"/app/posts/{web_desk.post_id}", data={"csrf": token, "action": "reject"}
        )
        assert answer.status_code in (403, 422)
    assert session.get(ReviewPost, web_desk.post_id).state == "in_review"
    page = client.get(f"/app/posts/{web_desk.post_id}")
    done = client.post(
        f"/app/posts/{web_desk.post_id}",
        data={"csrf": csrf_in(page.text), "action": "reject", "comment": "non"},
    )
    assert done.status_code == 303
    session.expire_all()
    assert session.get(ReviewPost, web_desk.post_id).state == "rejected"


def test_a_forged_session_cookie_is_not_a_session(client, web_desk: Desk):
    client.cookies.set("tamtam_session", "gAAAAABforged")
    assert client.get("/app/queue").status_code == 303


def test_the_language_follows_the_user(client, web_desk: Desk):
    sign_in(client, web_desk.email)
    page = client.get("/app/queue")
    client.post(
        "/app/language", data={"csrf": csrf_in(page.text), "language": "en", "back": "/app/queue"}
    )
    english = client.get("/app/queue").text
    assert "Review queue" in english and "File de relecture" not in english
    assert "Mentions" in client.get("/app/mentions").text
    assert "Vous êtes ouverts dimanche ?" in client.get("/app/mentions").text
