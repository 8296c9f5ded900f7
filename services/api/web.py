"""The web pages (server-rendered Jinja2, plain forms): sign in, the review queue, a post's page
(edit, comment, approve, request changes, reject), the calendar, the mentions inbox and the
crisis banner with pause/resume. French and English, per user.

Sign-in: the session cookie holds `{uid, exp, csrf}` sealed with the SecretBox (Fernet: AES
plus an HMAC, so it can be neither read nor forged), HttpOnly, SameSite=Lax, Secure over HTTPS.
Every form carries the session's CSRF token; the sign-in form, before any session exists,
carries one from a short-lived sealed cookie of its own. Pages call the review desk's
functions, the same ones the REST API calls.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.api.deps import SessionDep
from services.review import crisis, desk, pages, policies, queries, users
from services.review.lifecycle import CHANGES_REQUESTED, IN_REVIEW
from services.review.models import ReviewPost, User
from shared.crypto import SecretBox
from shared.models import Brand, SocialAccount
from shared.problems import Problem
from shared.wiring import context_of

router = APIRouter(include_in_schema=False)
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
SESSION_COOKIE = "tamtam_session"
LOGIN_COOKIE = "tamtam_login"
SESSION_SECONDS = 12 * 3600
LOGIN_SECONDS = 3600
SECURITY_HEADERS = {"X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
                    "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


# --- sessions and CSRF ----------------------------------------------------------------


def _box(request: Request) -> SecretBox:
    return context_of(request).extras["secrets"]  # type: ignore[no-any-return]


def _seal(request: Request, payload: dict[str, Any]) -> str:
    return _box(request).seal(payload).decode()


def _unseal(request: Request, cookie: str | None) -> dict[str, Any] | None:
    if not cookie:
        return None
    try:
        payload = _box(request).open(cookie.encode())
    except (ValueError, TypeError):
        return None
    if not isinstance(payload, dict) or float(payload.get("exp", 0)) < time.time():
        return None
    return payload


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/")


def _same_token(given: str | None, expected: str | None) -> bool:
    return bool(given and expected) and hmac.compare_digest(str(given), str(expected))


@dataclass(frozen=True)
class WebUser:
    user: User
    csrf: str

    @property
    def actor(self) -> desk.Actor:
        return desk.Actor(self.user.agency_id, self.user.role, f"user:{self.user.id}")

    @property
    def language(self) -> str:
        return self.user.language


def _sign_in_redirect(request: Request) -> Problem:
    return Problem(303, "sign in first", kind="sign-in",
                   headers={"Location": f"/app/login?next={quote(_safe_next(_here(request)))}"})


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def current_user(request: Request, session: SessionDep) -> WebUser:
    payload = _unseal(request, request.cookies.get(SESSION_COOKIE))
    user = session.get(User, payload.get("uid")) if payload else None
    if payload is None or user is None or user.disabled_at is not None:
        raise _sign_in_redirect(request)
    return WebUser(user, str(payload["csrf"]))


WebUserDep = Annotated[WebUser, Depends(current_user)]
CsrfField = Annotated[str, Form(alias="csrf")]


def check_csrf(web: WebUser, token: str) -> None:
    if not _same_token(token, web.csrf):
        raise Problem(403, "CSRF token missing or wrong", kind="csrf")


def _safe_next(target: str | None) -> str:
    """Only paths of these pages: never an open redirect to another site."""
    if target and target.startswith("/app/") and not target.startswith("//"):
        return target
    return "/app/queue"


# --- rendering ------------------------------------------------------------------------


def _users_by_actor(session: Session, agency_id: str) -> dict[str, str]:
    rows = session.scalars(select(User).where(User.agency_id == agency_id)).all()
    return {f"user:{u.id}": u.email for u in rows}


def _brand_of(session: Session, web: WebUser, brand_id: str | None) -> Brand | None:
    all_brands = queries.brands(session, web.user.agency_id)
    if brand_id:
        return queries.brand_of(session, web.user.agency_id, brand_id)
    return all_brands[0] if all_brands else None


def render(request: Request, session: Session, web: WebUser, template: str, brand: Brand | None,
           status_code: int = 200, **values: Any) -> HTMLResponse:
    agency_id = web.user.agency_id
    state = crisis.crisis_row(session, agency_id, brand.id) if brand else None
    paused = brand is not None and state is not None and state.paused
    alert = crisis.latest_alert(session, agency_id, brand.id) if brand and paused else None
    t = pages.translator(web.language)
    context = {
        "web": web, "user": web.user, "csrf": web.csrf, "t": t, "lang": web.language,
        "brands": queries.brands(session, agency_id), "brand": brand, "crisis": state,
        "alert": alert, "state_name": lambda s: pages.state_name(web.language, s),
        "curve_svg": (pages.curve_svg(alert.curve, labels=(t("volume"), t("negative")))
                      if alert else ""),
        "actors": _users_by_actor(session, agency_id), "path": request.url.path,
        "full_path": _safe_next(_here(request)),
        "done": request.query_params.get("done", ""),
        "can_decide": web.user.role in policies.DECIDING_ROLES,
        **values,
    }
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code,
                                      headers=SECURITY_HEADERS)


def _networks_of_brand(session: Session, agency_id: str, brand_id: str) -> list[str]:
    return list(dict.fromkeys(session.scalars(
        select(SocialAccount.network).where(SocialAccount.agency_id == agency_id,
                                            SocialAccount.brand_id == brand_id)
        .order_by(SocialAccount.created_at))))


def _card(request: Request, session: Session, post: ReviewPost,
          brand_networks: list[str]) -> dict[str, Any]:
    registry = context_of(request).extras.get("networks")
    policy = policies.policy_for(session, post.agency_id, post.brand_id)
    return {
        "post": post,
        "segments": pages.segments(post.text, post.risk_reasons),
        "previews": pages.previews(post.text, [post.network, *brand_networks], registry)
        if registry else [],
        "step_name": policy.step(post.step).name, "steps": len(policy.steps),
    }


# --- sign in --------------------------------------------------------------------------


@router.get("/", response_class=RedirectResponse)
def home() -> RedirectResponse:
    return RedirectResponse("/app/queue", status_code=303)


@router.get("/app", response_class=RedirectResponse)
@router.get("/app/", response_class=RedirectResponse)
def app_home() -> RedirectResponse:
    return RedirectResponse("/app/queue", status_code=303)


def _login_page(request: Request, next_path: str, error: bool = False,
                language: str = "fr", status_code: int = 200) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = TEMPLATES.TemplateResponse(
        request, "review/login.html",
        {"t": pages.translator(language), "lang": language, "csrf": token, "next": next_path,
         "error": error},
        status_code=status_code, headers=SECURITY_HEADERS)
    _set_cookie(request, response, LOGIN_COOKIE,
                _seal(request, {"csrf": token, "exp": time.time() + LOGIN_SECONDS}), LOGIN_SECONDS)
    return response


@router.get("/app/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None, lang: str = "fr") -> HTMLResponse:
    language = lang if lang in users.LANGUAGES else "fr"
    return _login_page(request, _safe_next(next), language=language)


@router.post("/app/login")
def login(
    request: Request, session: SessionDep, email: Annotated[str, Form()],
    password: Annotated[str, Form()], csrf: CsrfField, next: Annotated[str, Form()] = "",
) -> Response:
    pending = _unseal(request, request.cookies.get(LOGIN_COOKIE))
    if pending is None or not _same_token(csrf, pending.get("csrf")):
        return _login_page(request, _safe_next(next), error=True, status_code=403)
    user = users.authenticate(session, email, password)
    if user is None:
        return _login_page(request, _safe_next(next), error=True, status_code=401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    token = _seal(request, {"uid": user.id, "csrf": secrets.token_urlsafe(32),
                            "exp": time.time() + SESSION_SECONDS})
    _set_cookie(request, response, SESSION_COOKIE, token, SESSION_SECONDS)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@router.post("/app/logout")
def logout(web: WebUserDep, csrf: CsrfField) -> Response:
    check_csrf(web, csrf)
    response = RedirectResponse("/app/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/app/language")
def choose_language(web: WebUserDep, session: SessionDep, csrf: CsrfField,
                    language: Annotated[str, Form()],
                    back: Annotated[str, Form()] = "") -> Response:
    check_csrf(web, csrf)
    user = session.get(User, web.user.id)
    if user is not None and language in users.LANGUAGES:
        users.set_language(user, language)
        session.commit()
    return RedirectResponse(_safe_next(back), status_code=303)


# --- the queue and a post -------------------------------------------------------------


@router.get("/app/queue", response_class=HTMLResponse)
def queue(request: Request, web: WebUserDep, session: SessionDep,
          brand: str | None = None) -> HTMLResponse:
    chosen = _brand_of(session, web, brand)
    cards = []
    if chosen is not None:
        posts, _ = queries.list_posts(session, web.user.agency_id, brand_id=chosen.id,
                                      states=[IN_REVIEW, CHANGES_REQUESTED], kind="post", limit=100)
        networks = _networks_of_brand(session, web.user.agency_id, chosen.id)
        cards = [_card(request, session, post, networks) for post in posts]
    return render(request, session, web, "review/queue.html", chosen, cards=cards)


def _post_page(request: Request, session: Session, web: WebUser, post: ReviewPost,
               error: str = "", status_code: int = 200, text: str | None = None) -> HTMLResponse:
    brand = queries.brand_of(session, web.user.agency_id, post.brand_id)
    zone = pages.zone_of(brand.timezone)
    networks = _networks_of_brand(session, web.user.agency_id, brand.id)
    return render(
        request, session, web, "review/post.html", brand, status_code=status_code,
        card=_card(request, session, post, networks), error=error, draft_text=text,
        edits=queries.edits_of(session, post), comments=queries.comments_of(session, post),
        approvals=queries.approvals_of(session, post), audit=queries.audit_of_post(session, post),
        zone=zone, timezone=brand.timezone,
    )


@router.get("/app/posts/{post_id}", response_class=HTMLResponse)
def post_page(post_id: str, request: Request, web: WebUserDep, session: SessionDep) -> HTMLResponse:
    return _post_page(request, session, web, desk.get_post(session, web.user.agency_id, post_id))


def _local_datetime(value: str, zone: ZoneInfo) -> datetime | None:
    """A `datetime-local` field, read in the brand's timezone."""
    if not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip()).replace(tzinfo=zone)
    except ValueError:
        raise Problem(422, f"{value!r} is not a date and time", kind="validation-error") from None


DONE = {"save": "saved", "comment": "commented", "approve": "approved",
        "request_changes": "changes", "reject": "rejected", "submit": "submitted",
        "cancel": "cancelled"}


@router.post("/app/posts/{post_id}")
def act_on_post(
    post_id: str, request: Request, web: WebUserDep, session: SessionDep, csrf: CsrfField,
    action: Annotated[str, Form()], version: Annotated[int | None, Form()] = None,
    text: Annotated[str | None, Form()] = None, comment: Annotated[str, Form()] = "",
    when: Annotated[str, Form()] = "best", publish_at: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(web, csrf)
    context = context_of(request)
    post = desk.get_post(session, web.user.agency_id, post_id)
    brand = queries.brand_of(session, web.user.agency_id, post.brand_id)
    actor = web.actor
    step_before = post.step
    try:
        at = _local_datetime(publish_at, pages.zone_of(brand.timezone)) if when == "at" else None
        events = _act(session, post, actor, action, version, text, comment, when, at)
    except Problem as refused:
        session.rollback()
        fresh = desk.get_post(session, web.user.agency_id, post_id)
        t = pages.translator(web.language)
        message = {"post-changed": t("version_conflict"), "forbidden-role": t("forbidden"),
                   "forbidden-step": t("forbidden")}.get(refused.kind, refused.detail)
        return _post_page(request, session, web, fresh, error=message,
                          status_code=refused.status, text=text)
    context.publisher.stage(session, events)
    session.commit()
    try:
        context.publisher.flush_outbox()
    except Exception:  # the outbox keeps the events; the api's consumer loop flushes again
        pass
    done = DONE.get(action, "saved")
    if action == "approve" and post.state == IN_REVIEW and post.step > step_before:
        done = "step"
    return RedirectResponse(f"/app/posts/{post.id}?done={done}", status_code=303)


def _act(session: Session, post: ReviewPost, actor: desk.Actor, action: str, version: int | None,
         text: str | None, comment: str, when: str, publish_at: datetime | None) -> list[Any]:
    if action == "save":
        if text is not None:
            desk.edit(session, post, actor, text, version)
        if comment.strip():
            desk.comment(session, post, actor, comment)
        return []
    if action == "comment":
        desk.comment(session, post, actor, comment)
        return []
    if action in ("approve", "request_changes", "reject"):
        return desk.decide(session, post, actor, action, text=text, comment_text=comment,  # type: ignore[arg-type]
                           publish_at=publish_at, best_time=when != "at",
                           expected_version=version)
    if action == "submit":
        if text is not None:
            desk.edit(session, post, actor, text, version)
        return desk.submit(session, post, actor)
    if action == "cancel":
        return desk.cancel(session, post, actor, comment, version)
    raise Problem(422, f"unknown action {action!r}", kind="validation-error")


@router.post("/app/count")
def count(request: Request, web: WebUserDep, csrf: CsrfField, text: Annotated[str, Form()] = "",
          networks: Annotated[str, Form()] = "") -> JSONResponse:
    """Counters of the previews while a person edits (the networks' own counting rules)."""
    check_csrf(web, csrf)
    registry = context_of(request).extras.get("networks")
    names = [n for n in networks.split(",") if n][:20]
    found = pages.previews(text, names, registry) if registry else []
    return JSONResponse({p.network: {"count": p.count, "max": p.max_length, "over": p.over}
                         for p in found}, headers=SECURITY_HEADERS)


# --- calendar and mentions ------------------------------------------------------------


@router.get("/app/calendar", response_class=HTMLResponse)
def calendar(
    request: Request, web: WebUserDep, session: SessionDep, brand: str | None = None,
    view: Annotated[str, Query(pattern="^(week|month)$")] = "week", day: str | None = None,
) -> HTMLResponse:
    chosen = _brand_of(session, web, brand)
    if chosen is None:
        return render(request, session, web, "review/calendar.html", None, grid=None, view=view)
    zone = pages.zone_of(chosen.timezone)
    try:
        anchor = date.fromisoformat(day) if day else datetime.now(zone).date()
    except ValueError:
        anchor = datetime.now(zone).date()
    grid = pages.calendar_grid(view, anchor, web.language)
    start, end = grid.utc_range(zone)
    planned = queries.planned_posts(session, web.user.agency_id, chosen.id, start, end)
    pages.place_posts(grid, [(queries.moment_of(p), p) for p in planned if queries.moment_of(p)],  # type: ignore[misc]
                      zone)
    return render(request, session, web, "review/calendar.html", chosen, grid=grid, view=view,
                  weekdays=pages.WEEKDAYS.get(web.language, pages.WEEKDAYS["fr"]),
                  today=datetime.now(zone).date(), timezone=chosen.timezone)


@router.get("/app/mentions", response_class=HTMLResponse)
def mentions(request: Request, web: WebUserDep, session: SessionDep,
             brand: str | None = None) -> HTMLResponse:
    chosen = _brand_of(session, web, brand)
    cards = []
    if chosen is not None:
        replies, _ = queries.list_posts(session, web.user.agency_id, brand_id=chosen.id,
                                        states=[IN_REVIEW, CHANGES_REQUESTED], kind="reply",
                                        limit=100)
        networks = _networks_of_brand(session, web.user.agency_id, chosen.id)
        cards = [_card(request, session, reply, networks) for reply in replies]
    return render(request, session, web, "review/mentions.html", chosen, cards=cards)


# --- crisis mode ----------------------------------------------------------------------


def _brand_action(request: Request, session: Session, web: WebUser, brand_id: str,
                  back: str, run: Any, done: str) -> Response:
    web.actor.require(*policies.DECIDING_ROLES)
    queries.brand_of(session, web.user.agency_id, brand_id)
    context = context_of(request)
    events = run()
    context.publisher.stage(session, events)
    session.commit()
    try:
        context.publisher.flush_outbox()
    except Exception:  # the outbox keeps the events; the api's consumer loop flushes again
        pass
    target = _safe_next(back)
    separator = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{separator}done={done}", status_code=303)


@router.post("/app/brands/{brand_id}/pause")
def pause(brand_id: str, request: Request, web: WebUserDep, session: SessionDep, csrf: CsrfField,
          reason: Annotated[str, Form()] = "", back: Annotated[str, Form()] = "") -> Response:
    check_csrf(web, csrf)
    return _brand_action(
        request, session, web, brand_id, back,
        lambda: crisis.pause(session, web.user.agency_id, brand_id, actor=web.actor.name,
                             reason=reason.strip()), "paused")


@router.post("/app/brands/{brand_id}/resume")
def resume(brand_id: str, request: Request, web: WebUserDep, session: SessionDep, csrf: CsrfField,
           held_posts: Annotated[str, Form()] = "release",
           reschedule_to: Annotated[str, Form()] = "",
           back: Annotated[str, Form()] = "") -> Response:
    check_csrf(web, csrf)
    if held_posts not in ("release", "reschedule", "cancel"):
        raise Problem(422, f"unknown choice {held_posts!r}", kind="validation-error")
    brand = queries.brand_of(session, web.user.agency_id, brand_id)
    when = _local_datetime(reschedule_to, pages.zone_of(brand.timezone))
    return _brand_action(
        request, session, web, brand_id, back,
        lambda: crisis.resume(session, web.user.agency_id, brand_id, actor=web.actor.name,
                              held_posts=held_posts, reschedule_to=when),  # type: ignore[arg-type]
        "resumed")

