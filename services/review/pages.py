"""What the review web pages show, computed without HTTP: the message catalogue (fr, en), risk
spans to highlight, per-network previews with their counters, the calendar grid in the
brand's timezone, and the crisis curve drawn as a small inline SVG."""

from __future__ import annotations

import calendar as calendar_module
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from markupsafe import Markup, escape

from services.review.models import ReviewPost

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "app": "Tamtam", "sign_in": "Sign in", "sign_out": "Sign out", "email": "Email",
        "password": "Password", "bad_login": "Wrong email or password.",
        "queue": "Review queue", "calendar": "Calendar", "mentions": "Mentions",
        "brand": "Brand", "no_posts": "Nothing waits for review.", "open": "Open",
        "risk": "Risk", "reasons": "Why a person should look", "step": "Step",
        "state": "State", "network": "Network", "text": "Text", "comment": "Comment",
        "save": "Save the edit", "approve": "Approve", "request_changes": "Request changes",
        "reject": "Reject", "cancel": "Cancel the post", "submit": "Send back to review",
        "add_comment": "Comment", "best_time": "At the best time", "at_time": "At",
        "when": "When to publish", "history": "Edit history", "comments": "Comments",
        "audit": "Audit log", "approvals": "Approvals", "previews": "Previews",
        "characters": "characters", "too_long": "too long", "hashtags": "Suggested hashtags",
        "week": "Week", "month": "Month", "previous": "Previous", "next": "Next",
        "today": "Today", "nothing_planned": "Nothing planned.",
        "crisis": "Crisis mode: publishing is paused for this brand",
        "crisis_reason": "Why", "samples": "Sample mentions", "curve": "Volume and negative share",
        "volume": "volume", "negative": "negative share", "pause": "Pause publishing (crisis mode)",
        "pause_reason": "Reason", "resume": "Resume publishing", "held_posts": "Held posts",
        "release": "Release them as planned", "reschedule": "Reschedule them to",
        "cancel_held": "Cancel them", "severity": "Severity", "reply_to": "In reply to",
        "suggested_reply": "Suggested reply", "no_mentions": "No mention waits for a reply.",
        "language": "Language", "version_conflict": "Someone changed this post meanwhile.",
        "done_saved": "Saved.", "done_approved": "Approved.",
        "done_step": "Step approved; next step requested.",
        "done_changes": "Changes requested.", "done_rejected": "Rejected.",
        "done_cancelled": "Cancelled.",
        "done_commented": "Comment added.", "done_submitted": "Sent back to review.",
        "done_paused": "The brand is paused.", "done_resumed": "The brand is running again.",
        "error": "This could not be done", "forbidden": "Your role cannot do this.",
        "csrf": "The form expired; reload the page and try again.",
        "all_states": "All", "mention_author": "From", "kind_reply": "reply", "kind_post": "post",
        "needs_person": "asks for a person", "back": "Back to the queue", "paused_by": "Paused by",
        "auto_note": "AI proposes, people decide.",
    },
    "fr": {
        "app": "Tamtam", "sign_in": "Se connecter", "sign_out": "Se déconnecter", "email": "E-mail",
        "password": "Mot de passe", "bad_login": "E-mail ou mot de passe incorrect.",
        "queue": "File de relecture", "calendar": "Calendrier", "mentions": "Mentions",
        "brand": "Marque", "no_posts": "Rien n'attend de relecture.", "open": "Ouvrir",
        "risk": "Risque", "reasons": "Pourquoi une personne doit regarder", "step": "Étape",
        "state": "État", "network": "Réseau", "text": "Texte", "comment": "Commentaire",
        "save": "Enregistrer la modification", "approve": "Approuver",
        "request_changes": "Demander des modifications", "reject": "Refuser",
        "cancel": "Annuler la publication", "submit": "Renvoyer en relecture",
        "add_comment": "Commenter", "best_time": "Au meilleur moment", "at_time": "Le",
        "when": "Quand publier", "history": "Historique des modifications",
        "comments": "Commentaires", "audit": "Journal d'audit", "approvals": "Approbations",
        "previews": "Aperçus", "characters": "caractères", "too_long": "trop long",
        "hashtags": "Hashtags suggérés", "week": "Semaine", "month": "Mois",
        "previous": "Précédent", "next": "Suivant", "today": "Aujourd'hui",
        "nothing_planned": "Rien de prévu.",
        "crisis": "Mode crise : les publications de cette marque sont suspendues",
        "crisis_reason": "Pourquoi", "samples": "Exemples de mentions",
        "curve": "Volume et part négative", "volume": "volume", "negative": "part négative",
        "pause": "Suspendre les publications (mode crise)", "pause_reason": "Motif",
        "resume": "Reprendre les publications", "held_posts": "Publications retenues",
        "release": "Les publier comme prévu", "reschedule": "Les reprogrammer au",
        "cancel_held": "Les annuler", "severity": "Gravité", "reply_to": "En réponse à",
        "suggested_reply": "Réponse suggérée", "no_mentions": "Aucune mention n'attend de réponse.",
        "language": "Langue",
        "version_conflict": "Quelqu'un a modifié cette publication entre-temps.",
        "done_saved": "Enregistré.", "done_approved": "Approuvé.",
        "done_step": "Étape approuvée ; l'étape suivante est demandée.",
        "done_changes": "Modifications demandées.", "done_rejected": "Refusé.",
        "done_cancelled": "Annulé.", "done_commented": "Commentaire ajouté.",
        "done_submitted": "Renvoyé en relecture.", "done_paused": "La marque est suspendue.",
        "done_resumed": "La marque publie de nouveau.", "error": "Action impossible",
        "forbidden": "Votre rôle ne permet pas cette action.",
        "csrf": "Le formulaire a expiré ; rechargez la page et réessayez.",
        "all_states": "Tous", "mention_author": "De", "kind_reply": "réponse",
        "kind_post": "publication", "needs_person": "demande une personne",
        "back": "Retour à la file", "paused_by": "Suspendue par",
        "auto_note": "L'IA propose, les personnes décident.",
    },
}
STATE_NAMES = {
    "en": {"draft": "draft", "in_review": "in review", "changes_requested": "changes requested",
           "approved": "approved", "scheduled": "scheduled", "publishing": "publishing",
           "published": "published", "failed": "failed", "rejected": "rejected",
           "cancelled": "cancelled"},
    "fr": {"draft": "brouillon", "in_review": "en relecture", "changes_requested": "à modifier",
           "approved": "approuvé", "scheduled": "programmé", "publishing": "en publication",
           "published": "publié", "failed": "échec", "rejected": "refusé", "cancelled": "annulé"},
}
WEEKDAYS = {"en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
            "fr": ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."]}
MONTHS = {"en": list(calendar_module.month_name)[1:],
          "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
                 "septembre", "octobre", "novembre", "décembre"]}


def translator(language: str) -> Any:
    catalogue = MESSAGES.get(language, MESSAGES["fr"])

    def t(key: str) -> str:
        return catalogue.get(key) or MESSAGES["en"].get(key) or key

    return t


def state_name(language: str, state: str) -> str:
    return STATE_NAMES.get(language, STATE_NAMES["fr"]).get(state, state)


# --- risk spans -----------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    text: str
    reasons: tuple[str, ...] = ()  # messages of the risk reasons covering this segment


def segments(text: str, risk_reasons: Iterable[dict[str, Any]]) -> list[Segment]:
    """The text cut where risk spans start and end, each piece with the reasons covering it."""
    spans = []
    for reason in risk_reasons:
        start, end = reason.get("start"), reason.get("end")
        if isinstance(start, int) and isinstance(end, int):
            start, end = max(0, start), min(len(text), end)
            if start < end:
                spans.append((start, end, str(reason.get("message") or reason.get("code") or "")))
    cuts = sorted({0, len(text), *[s for s, _, _ in spans], *[e for _, e, _ in spans]})
    pieces = []
    for left, right in zip(cuts, cuts[1:], strict=False):
        covering = tuple(m for s, e, m in spans if s <= left and right <= e)
        pieces.append(Segment(text[left:right], covering))
    return pieces


# --- previews -------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    network: str
    display_name: str
    count: int
    max_length: int

    @property
    def over(self) -> bool:
        return self.count > self.max_length


def previews(text: str, networks: Sequence[str], registry: Any) -> list[Preview]:
    """The text as each network counts it, for the post's network and the brand's others."""
    found = []
    for name in dict.fromkeys(networks):
        try:
            adapter = _counting_adapter(registry, name)
        except LookupError:
            continue
        found.append(Preview(name, adapter.display_name, adapter.count(text),
                             adapter.limits.max_length))
    return found


_ADAPTERS: dict[tuple[int, str], Any] = {}
_NO_NETWORK = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(599)))


def _counting_adapter(registry: Any, name: str) -> Any:
    """One adapter per network and registry, only ever asked to count (it never calls out)."""
    key = (id(registry), name)
    if key not in _ADAPTERS:
        _ADAPTERS[key] = registry.create(name, http=_NO_NETWORK)
    return _ADAPTERS[key]


# --- calendar -------------------------------------------------------------------------


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@dataclass
class Day:
    day: date
    in_month: bool = True
    posts: list[tuple[str, ReviewPost]] = field(default_factory=list)  # (local time, post)


@dataclass
class CalendarGrid:
    view: str
    start: date
    end: date  # exclusive
    weeks: list[list[Day]]
    previous: date
    following: date
    title: str

    def utc_range(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        return (datetime.combine(self.start, time(), zone).astimezone(UTC),
                datetime.combine(self.end, time(), zone).astimezone(UTC))


def calendar_grid(view: str, anchor: date, language: str) -> CalendarGrid:
    months = MONTHS.get(language, MONTHS["fr"])
    if view == "month":
        first = anchor.replace(day=1)
        last = first.replace(day=calendar_module.monthrange(first.year, first.month)[1])
        start = first - timedelta(days=first.weekday())
        end = last + timedelta(days=7 - last.weekday())
        previous = (first - timedelta(days=1)).replace(day=1)
        following = last + timedelta(days=1)
        title = f"{months[first.month - 1]} {first.year}"
    else:
        view = "week"
        start = anchor - timedelta(days=anchor.weekday())
        end = start + timedelta(days=7)
        previous, following = start - timedelta(days=7), end
        first = start
        last = end - timedelta(days=1)
        title = (f"{start.day} {months[start.month - 1]} – {last.day} {months[last.month - 1]} "
                 f"{last.year}")
    dates = [start + timedelta(days=i) for i in range((end - start).days)]
    days = [Day(d, in_month=view == "week" or d.month == first.month) for d in dates]
    weeks = [days[i:i + 7] for i in range(0, len(days), 7)]
    return CalendarGrid(view, start, end, weeks, previous, following, title)


def place_posts(grid: CalendarGrid, posts: Iterable[tuple[datetime, ReviewPost]],
                zone: ZoneInfo) -> None:
    by_day = {day.day: day for week in grid.weeks for day in week}
    for moment, post in posts:
        local = moment.astimezone(zone)
        if local.date() in by_day:
            by_day[local.date()].posts.append((local.strftime("%H:%M"), post))


# --- the crisis curve -----------------------------------------------------------------


def curve_svg(curve: Sequence[dict[str, Any]], width: int = 320, height: int = 90,
              labels: tuple[str, str] = ("volume", "negative share")) -> Markup:
    """Volume as bars and the negative share as a line (0..1), from `CrisisAlerted.curve`."""
    points = [p for p in curve if isinstance(p, dict)]
    if not points:
        return Markup("")
    pad = 4
    volumes = [float(p.get("volume") or 0) for p in points]
    shares = [min(1.0, max(0.0, float(p.get("negative_share") or 0))) for p in points]
    top = max(volumes) or 1.0
    slot = (width - 2 * pad) / len(points)
    inner = height - 2 * pad
    bars = "".join(
        f'<rect x="{pad + i * slot + slot * 0.1:.1f}" y="{pad + inner * (1 - v / top):.1f}" '
        f'width="{slot * 0.8:.1f}" height="{inner * v / top:.1f}" fill="#9fb7d9"/>'
        for i, v in enumerate(volumes))
    line = " ".join(f"{pad + i * slot + slot / 2:.1f},{pad + inner * (1 - s):.1f}"
                    for i, s in enumerate(shares))
    title = f"{escape(labels[0])} (max {int(top)}) / {escape(labels[1])}"
    return Markup(
        f'<svg class="curve" role="img" aria-label="{title}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{title}</title>"
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff" stroke="#ccc"/>'
        f'{bars}<polyline points="{line}" fill="none" stroke="#c0392b" stroke-width="2"/></svg>'
    )
