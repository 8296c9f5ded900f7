"""The review desk: what people (and publish's events) do to a post.

Functions take a session and plain values and return the events to stage; routes, web pages
and handlers call them. A decision at the last step of the brand's policy approves the post
and emits `posts.approved` with the account to publish from.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.review import crisis, lifecycle
from services.review.lifecycle import (
    APPROVED,
    CANCELLED,
    CHANGES_REQUESTED,
    DRAFT,
    EDITABLE,
    IN_REVIEW,
    REJECTED,
)
from services.review.models import PostComment, PostEdit, ReviewPost, StepApproval
from services.review.policies import DECIDING_ROLES, Policy, policy_for, why_not_automatic
from shared.db import get_owned
from shared.events import (
    DraftCreated,
    Event,
    Hashtag,
    MediaRef,
    PostApproved,
    ReviewRequested,
    new_event,
)
from shared.models import SocialAccount
from shared.problems import Problem

Decision = Literal["approve", "request_changes", "reject"]
WRITING_ROLES = ("admin", "editor", "approver")


@dataclass(frozen=True)
class Actor:
    """Who acts: an agency, a role and the name written in the audit log."""

    agency_id: str
    role: str
    name: str  # "user:<id>", "key:<id>", "system:<what>"

    def require(self, *roles: str) -> None:
        if self.role not in roles:
            raise Problem(403, f"the role {self.role!r} cannot do this; it needs one of: "
                               f"{', '.join(roles)}", kind="forbidden-role")


def _event(post: ReviewPost, payload: ReviewRequested | PostApproved) -> Event:
    return new_event(payload, tenant=post.agency_id, source="review", subject=post.id)


def _review_requested(post: ReviewPost, policy: Policy) -> Event:
    return _event(post, ReviewRequested(
        brand_id=post.brand_id, post_id=post.id, step=post.step,
        step_name=policy.step(post.step).name, needs_person=post.needs_person))


# --- a new draft ----------------------------------------------------------------------


def receive_draft(session: Session, agency_id: str, draft: DraftCreated) -> list[Event]:
    """A post in review for each new draft (idempotent on the draft id)."""
    if session.get(ReviewPost, draft.draft_id) is not None:
        return []
    post = ReviewPost(
        id=draft.draft_id, agency_id=agency_id, brand_id=draft.brand_id, kind=draft.kind,
        network=draft.network, account_id=draft.account_id, brief_id=draft.brief_id,
        variant=draft.variant, language=draft.language, text=draft.text, original_text=draft.text,
        description=draft.description,
        hashtags=[h.model_dump() for h in draft.hashtags],
        media=[m.model_dump() for m in draft.media],
        risk_score=draft.risk_score, risk_reasons=[r.model_dump() for r in draft.risk_reasons],
        needs_person=draft.needs_person, mention_id=draft.mention_id,
        mention_text=draft.mention_text, mention_author=draft.mention_author,
        mention_external_id=draft.mention_external_id, mention_sentiment=draft.mention_sentiment,
        state=DRAFT, step=0, version=1,
    )
    session.add(post)
    session.flush()
    lifecycle.audit(session, agency_id=agency_id, brand_id=post.brand_id, post_id=post.id,
                    actor="system:generation", action="created", to_state=DRAFT,
                    reason=f"{draft.provider}/{draft.model}".strip("/"))
    events = [lifecycle.transition(session, post, IN_REVIEW, actor="system:review",
                                   reason="new draft")]
    policy = policy_for(session, agency_id, post.brand_id)
    blocked = why_not_automatic(post, policy, crisis.is_paused(session, agency_id, post.brand_id))
    account_id = _account_for(session, post, None, required=False)
    if blocked is None and account_id is not None:
        events += _approve(session, post, Actor(agency_id, "system", "system:auto-approval"),
                           account_id, publish_at=None, best_time=True,
                           reason="low risk, automatic approval")
    else:
        events.append(_review_requested(post, policy))
    return events


# --- people's actions -----------------------------------------------------------------


def get_post(session: Session, agency_id: str, post_id: str) -> ReviewPost:
    return get_owned(session, ReviewPost, post_id, agency_id)


def _check_version(post: ReviewPost, expected: int | None) -> None:
    if expected is not None and expected != post.version:
        raise lifecycle.PostChanged(post.id, post.state)


def edit(session: Session, post: ReviewPost, actor: Actor, text: str,
         expected_version: int | None = None) -> PostEdit | None:
    """Change the text (kept with its diff); None when the text did not change."""
    actor.require(*WRITING_ROLES)
    _check_version(post, expected_version)
    if post.state not in EDITABLE:
        raise Problem(409, f"a post in state {post.state!r} can no longer be edited",
                      kind="not-editable", state=post.state)
    text = text.strip()
    if not text:
        raise Problem(422, "the text cannot be empty", kind="validation-error")
    if text == post.text:
        return None
    diff = "\n".join(difflib.unified_diff(
        post.text.splitlines(), text.splitlines(), "before", "after", lineterm=""))
    change = PostEdit(agency_id=post.agency_id, post_id=post.id, actor=actor.name,
                      before=post.text, after=text, diff=diff)
    lifecycle.save_versioned(session, post, text=text)
    session.add(change)
    lifecycle.audit(session, agency_id=post.agency_id, brand_id=post.brand_id, post_id=post.id,
                    actor=actor.name, action="edited", from_state=post.state, to_state=post.state)
    return change


def comment(session: Session, post: ReviewPost, actor: Actor, body: str) -> PostComment:
    actor.require(*WRITING_ROLES)
    body = body.strip()
    if not body:
        raise Problem(422, "the comment cannot be empty", kind="validation-error")
    row = PostComment(agency_id=post.agency_id, post_id=post.id, actor=actor.name, body=body)
    session.add(row)
    lifecycle.audit(session, agency_id=post.agency_id, brand_id=post.brand_id, post_id=post.id,
                    actor=actor.name, action="commented", reason=body[:200])
    session.flush()
    return row


def decide(
    session: Session, post: ReviewPost, actor: Actor, decision: Decision, *,
    text: str | None = None, comment_text: str = "", publish_at: datetime | None = None,
    best_time: bool = False, account_id: str | None = None, expected_version: int | None = None,
) -> list[Event]:
    """Approve (this step, or the post at the last step), request changes, or reject."""
    actor.require(*DECIDING_ROLES)
    _check_version(post, expected_version)
    policy = policy_for(session, post.agency_id, post.brand_id)
    wanted = {"approve": APPROVED, "request_changes": CHANGES_REQUESTED,
              "reject": REJECTED}[decision]
    if post.state != IN_REVIEW and not (decision == "reject" and post.state == CHANGES_REQUESTED):
        raise lifecycle.IllegalTransition(post.state, wanted)
    if not policy.may_act(actor.role, post.step):
        step = policy.step(post.step)
        raise Problem(403, f"step {post.step + 1} ({step.name}) is decided by: "
                           f"{', '.join(step.roles)}", kind="forbidden-step")
    last_step = decision == "approve" and policy.is_last(post.step)
    chosen = _account_for(session, post, account_id, required=True) if last_step else None
    if text is not None:
        edit(session, post, actor, text)
    if comment_text.strip():
        comment(session, post, actor, comment_text)
    if decision == "request_changes":
        return [lifecycle.transition(session, post, CHANGES_REQUESTED, actor=actor.name,
                                     reason=comment_text.strip(), step=0)]
    if decision == "reject":
        return [lifecycle.transition(session, post, REJECTED, actor=actor.name,
                                     reason=comment_text.strip())]
    session.add(StepApproval(agency_id=post.agency_id, post_id=post.id, step=post.step,
                             step_name=policy.step(post.step).name, actor=actor.name,
                             role=actor.role))
    if not last_step:
        lifecycle.save_versioned(session, post, step=post.step + 1)
        lifecycle.audit(session, agency_id=post.agency_id, brand_id=post.brand_id,
                        post_id=post.id, actor=actor.name, action="step_approved",
                        from_state=IN_REVIEW, to_state=IN_REVIEW,
                        reason=f"{policy.step(post.step - 1).name} → {policy.step(post.step).name}")
        return [_review_requested(post, policy)]
    assert chosen is not None
    return _approve(session, post, actor, chosen, publish_at=publish_at,
                    best_time=best_time or publish_at is None, reason=comment_text.strip())


def submit(session: Session, post: ReviewPost, actor: Actor,
           expected_version: int | None = None) -> list[Event]:
    """Send a post back to review after changes (from the first step again)."""
    actor.require(*WRITING_ROLES)
    _check_version(post, expected_version)
    event = lifecycle.transition(session, post, IN_REVIEW, actor=actor.name,
                                 reason="resubmitted", step=0)
    return [event, _review_requested(post, policy_for(session, post.agency_id, post.brand_id))]


def cancel(session: Session, post: ReviewPost, actor: Actor, reason: str = "",
           expected_version: int | None = None) -> list[Event]:
    actor.require(*WRITING_ROLES)
    _check_version(post, expected_version)
    return [lifecycle.transition(session, post, CANCELLED, actor=actor.name, reason=reason)]


def _approve(session: Session, post: ReviewPost, actor: Actor, account_id: str, *,
             publish_at: datetime | None, best_time: bool, reason: str) -> list[Event]:
    moved = lifecycle.transition(session, post, APPROVED, actor=actor.name, reason=reason,
                                 account_id=account_id, publish_at=publish_at,
                                 best_time=best_time)
    approved = _event(post, PostApproved(
        brand_id=post.brand_id, post_id=post.id, account_id=account_id, network=post.network,
        text=post.text, media=[MediaRef.model_validate(m) for m in post.media],
        reply_to_external_id=post.mention_external_id if post.kind == "reply" else None,
        publish_at=publish_at, best_time=best_time,
    ))
    return [moved, approved]


def _account_for(session: Session, post: ReviewPost, chosen: str | None, *,
                 required: bool) -> str | None:
    """The decision's account, else the draft's, else the brand's first connected account
    on the post's network."""
    for candidate in (chosen, post.account_id):
        if candidate:
            account = session.get(SocialAccount, candidate)
            if account is None or (account.agency_id, account.brand_id) != (post.agency_id,
                                                                            post.brand_id):
                if candidate == chosen:
                    raise Problem(422, f"account {candidate} is not one of this brand's accounts",
                                  kind="validation-error")
                continue
            return account.id
    first = session.scalars(
        select(SocialAccount)
        .where(SocialAccount.agency_id == post.agency_id, SocialAccount.brand_id == post.brand_id,
               SocialAccount.network == post.network, SocialAccount.status == "connected")
        .order_by(SocialAccount.created_at, SocialAccount.id)
    ).first()
    if first is None and required:
        raise Problem(409, f"the brand has no connected {post.network} account to publish from",
                      kind="no-account")
    return first.id if first else None


def hashtags_of(post: ReviewPost) -> list[Hashtag]:
    return [Hashtag.model_validate(h) for h in post.hashtags]
