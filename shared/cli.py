"""`tamtam`: the command line for operators and scripts (Typer).

On this machine (database and Kafka directly):

    tamtam run | stop                 the whole system on this machine (make run / make stop)
    tamtam migrate                    upgrade the database to the newest schema
    tamtam topics                     create the Kafka topics
    tamtam agency create NAME         a new agency and its first admin API key (shown once)
    tamtam secrets rotate             re-encrypt every stored secret with the first key

Through the running api (HTTP; `--api-url`, default http://127.0.0.1:8000, and `--key`, or
TAMTAM_API_URL and TAMTAM_API_KEY):

    tamtam keys create|list|rotate|revoke       API keys (admin)
    tamtam brands create|list                   brands
    tamtam accounts connect-sandbox             a sandbox account for a brand
    tamtam briefs post                          a brief; waits for its drafts (progress bar)
    tamtam review list | approve POST_ID        the review queue; approve a post
    tamtam webhooks create|list|deliveries|replay, webhooks listen   (a local receiver)
    tamtam status                               the services' readiness and the Kafka topics

Errors are one line on stderr (the API's problem `detail`) and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from typing import Annotated, Any, NoReturn

import httpx
import typer

from shared.config import get_settings

app = typer.Typer(
    help="Tamtam: AI proposes, people decide.", no_args_is_help=True, pretty_exceptions_enable=False
)
agency_app = typer.Typer(help="Agencies and their keys.", no_args_is_help=True)
secrets_app = typer.Typer(help="Secrets at rest.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys of your agency (admin key needed).", no_args_is_help=True)
brands_app = typer.Typer(help="Brands.", no_args_is_help=True)
accounts_app = typer.Typer(help="Social accounts.", no_args_is_help=True)
briefs_app = typer.Typer(help="Briefs: what to write about.", no_args_is_help=True)
review_app = typer.Typer(help="The review queue.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Webhook subscriptions and deliveries.", no_args_is_help=True)
app.add_typer(agency_app, name="agency")
app.add_typer(secrets_app, name="secrets")
app.add_typer(keys_app, name="keys")
app.add_typer(brands_app, name="brands")
app.add_typer(accounts_app, name="accounts")
app.add_typer(briefs_app, name="briefs")
app.add_typer(review_app, name="review")
app.add_typer(webhooks_app, name="webhooks")


def fail(message: str) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


@app.command()
def run() -> None:
    """Start Kafka, migrate, and run the five services until Ctrl-C."""
    from shared.supervisor import run as run_all

    raise typer.Exit(code=run_all(get_settings()))


@app.command()
def stop() -> None:
    """Stop everything `tamtam run` started, the local broker included."""
    from shared.supervisor import stop_all

    stop_all()


@app.command()
def migrate() -> None:
    """Upgrade the database to the newest schema."""
    from shared.migrate import upgrade

    upgrade(get_settings().database_url)
    typer.echo("database is at the newest schema")


@app.command()
def topics() -> None:
    """Create every Kafka topic (and the dead-letter topics) if missing."""
    from shared.bus import ensure_topics

    created = ensure_topics(get_settings())
    typer.echo(f"{len(created)} topics created")


@agency_app.command("create")
def agency_create(name: str = typer.Argument(..., help="The agency's name.")) -> None:
    """Create an agency and print its first admin API key (shown once)."""
    from services.api.keys import create_agency
    from shared.db import make_engine, make_session_factory, transaction

    if not name.strip():
        fail("the agency name is empty")
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        with transaction(make_session_factory(engine)) as session:
            agency, key = create_agency(session, name.strip())
    except Exception as error:  # show the cause in one line, not a traceback
        fail(f"cannot create the agency: {type(error).__name__}: {error}".splitlines()[0])
        return
    finally:
        engine.dispose()
    typer.echo(f"agency {agency.id} created")
    typer.echo(f"API key (shown once, store it now): {key}")


@secrets_app.command("rotate")
def secrets_rotate() -> None:
    """Re-encrypt every account's credentials and webhook secret with the first key of
    TAMTAM_SECRET_KEYS."""
    from sqlalchemy import select

    from services.api.webhooks.models import WebhookSubscription
    from shared.crypto import SecretBox
    from shared.db import make_engine, make_session_factory, transaction
    from shared.models import SocialAccount

    settings = get_settings()
    box = SecretBox.from_settings(settings)
    engine = make_engine(settings.database_url)
    count = 0
    with transaction(make_session_factory(engine)) as session:
        for account in session.scalars(
            select(SocialAccount).where(SocialAccount.credentials_encrypted.is_not(None))
        ):
            account.credentials_encrypted = box.rotate(account.credentials_encrypted)  # type: ignore[arg-type]
            count += 1
        hooks = 0
        for subscription in session.scalars(select(WebhookSubscription)):
            subscription.secret_encrypted = box.rotate(subscription.secret_encrypted)
            hooks += 1
    engine.dispose()
    typer.echo(f"{count} accounts and {hooks} webhook secrets re-encrypted")


# --- commands that talk to the running api ------------------------------------------------

ApiUrl = Annotated[
    str | None,
    typer.Option(
        "--api-url", help="The running api (default: TAMTAM_API_URL, else http://127.0.0.1:8000)."
    ),
]
Key = Annotated[
    str | None,
    typer.Option("--key", help="An API key (default: TAMTAM_API_KEY).", show_default=False),
]
Json = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer as it is.")]


class Api:
    """A small HTTP client for the agency API that turns every failure into one clear line."""

    def __init__(self, api_url: str | None, key: str | None, timeout: float = 30.0) -> None:
        settings = get_settings()
        self.base = (api_url or settings.api_url).rstrip("/")
        clear = key or (settings.api_key.get_secret_value() if settings.api_key else None)
        if not clear:
            fail(
                "no API key: pass --key or set TAMTAM_API_KEY "
                "(`tamtam agency create NAME` prints one)"
            )
        self.http = httpx.Client(
            base_url=self.base,
            timeout=timeout,
            trust_env=False,
            headers={"Authorization": f"Bearer {clear}"},
        )

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        headers = {"Idempotency-Key": str(uuid.uuid4())} if method == "POST" else {}
        params = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            answer = self.http.request(method, path, json=body, params=params, headers=headers)
        except httpx.ConnectError:
            fail(
                f"cannot reach the api at {self.base}: is it running (`make run`)? "
                "Use --api-url if it runs elsewhere."
            )
        except httpx.TimeoutException:
            fail(f"the api at {self.base} did not answer {method} {path} in time")
        except httpx.HTTPError as error:
            fail(f"{method} {path} failed: {type(error).__name__}: {error}")
        if answer.status_code >= 400:
            fail(problem_text(answer))
        if answer.status_code == 204 or not answer.content:
            return None
        try:
            return answer.json()
        except ValueError:
            fail(f"{method} {path} answered {answer.status_code} with something that is not JSON")


def problem_text(answer: httpx.Response) -> str:
    """`404 Not found: brand 123 not found` from an RFC 9457 document (or the raw text)."""
    try:
        problem = answer.json()
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        text = answer.text.strip().splitlines()[0][:200] if answer.text.strip() else ""
        request = answer.request
        return f"{answer.status_code} from {request.method} {request.url.path} {text}".strip()
    line = f"{answer.status_code} {problem.get('title', '')}: {problem.get('detail', '')}"
    if answer.status_code == 404 and answer.request.url.path.startswith("/v1/"):
        line += (
            " (or this api has no such route yet)" if problem.get("detail") == "Not Found" else ""
        )
    if answer.status_code == 429 and "retry-after" in answer.headers:
        line += f" (retry in {answer.headers['retry-after']} s)"
    return line


def show(payload: Any, as_json: bool, rows: list[tuple[str, ...]] | None = None) -> None:
    if as_json or rows is None:
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    header, *body = rows
    table = Table(*header)
    for row in body:
        table.add_row(*row)
    Console().print(table)


@keys_app.command("create")
def keys_create(
    name: str,
    role: Annotated[str, typer.Option(help="admin, editor, approver or viewer.")] = "viewer",
    api_url: ApiUrl = None,
    key: Key = None,
) -> None:
    """Create an API key; it is printed once."""
    created = Api(api_url, key).call("POST", "/v1/keys", {"name": name, "role": role})
    typer.echo(f"key {created['id']} ({created['role']}) created")
    typer.echo(f"API key (shown once, store it now): {created['key']}")


@keys_app.command("list")
def keys_list(api_url: ApiUrl = None, key: Key = None, as_json: Json = False) -> None:
    """List the agency's keys (never the keys themselves)."""
    page = Api(api_url, key).call("GET", "/v1/keys", params={"limit": 200})
    rows = [("id", "name", "role", "prefix", "active", "created")] + [
        (
            k["id"],
            k["name"],
            k["role"],
            k["prefix"],
            "yes" if k["active"] else "revoked",
            k["created_at"][:19],
        )
        for k in page["items"]
    ]
    show(page, as_json, rows)


@keys_app.command("rotate")
def keys_rotate(key_id: str, api_url: ApiUrl = None, key: Key = None) -> None:
    """Replace a key by a new one (same name and role); the old one stops working now."""
    created = Api(api_url, key).call("POST", f"/v1/keys/{key_id}/rotate")
    typer.echo(f"key {key_id} revoked; new key {created['id']} ({created['role']})")
    typer.echo(f"API key (shown once, store it now): {created['key']}")


@keys_app.command("revoke")
def keys_revoke(key_id: str, api_url: ApiUrl = None, key: Key = None) -> None:
    """Revoke a key: it stops working at once."""
    Api(api_url, key).call("DELETE", f"/v1/keys/{key_id}")
    typer.echo(f"key {key_id} revoked")


@brands_app.command("create")
def brands_create(
    name: str,
    timezone: Annotated[str, typer.Option(help="IANA time zone.")] = "Europe/Paris",
    api_url: ApiUrl = None,
    key: Key = None,
) -> None:
    """Create a brand (admin key)."""
    brand = Api(api_url, key).call("POST", "/v1/brands", {"name": name, "timezone": timezone})
    typer.echo(f"brand {brand['id']} created: {brand['name']}")


@brands_app.command("list")
def brands_list(api_url: ApiUrl = None, key: Key = None, as_json: Json = False) -> None:
    """List the agency's brands."""
    page = Api(api_url, key).call("GET", "/v1/brands", params={"limit": 200})
    rows = [("id", "name", "timezone", "languages")] + [
        (b["id"], b["name"], b["timezone"], ", ".join(b["languages"])) for b in page["items"]
    ]
    show(page, as_json, rows)


@accounts_app.command("connect-sandbox")
def accounts_connect_sandbox(
    brand: Annotated[str, typer.Option("--brand", help="The brand's id.")],
    handle: Annotated[str, typer.Option(help="Any name: the sandbox accepts every handle.")],
    api_url: ApiUrl = None,
    key: Key = None,
) -> None:
    """Connect a sandbox account (Tamtam's local test network: no account, no key)."""
    account = Api(api_url, key).call(
        "POST",
        "/v1/accounts",
        {"brand_id": brand, "network": "sandbox", "handle": handle, "display_name": handle},
    )
    typer.echo(
        f"account {account['id']} connected: sandbox/{account['handle']} "
        f"(see what it publishes at {(api_url or get_settings().api_url).rstrip('/')}"
        f"/sandbox/{account['handle']})"
    )


def _in_review(api: Api, brief_id: str) -> list[dict[str, Any]]:
    page = api.call("GET", "/v1/posts", params={"state": "in_review", "limit": 200})
    return [post for post in page.get("items", []) if post.get("brief_id") == brief_id]


@briefs_app.command("post")
def briefs_post(
    brand: Annotated[str, typer.Option("--brand", help="The brand's id.")],
    topic: Annotated[str, typer.Option(help="What the posts are about.")],
    network: Annotated[list[str], typer.Option(help="Networks to write for (repeat).")] = [  # noqa: B006
        "sandbox"
    ],
    goal: Annotated[str, typer.Option(help="awareness, engagement, traffic, ...")] = "",
    key_message: Annotated[str, typer.Option(help="The one thing to say.")] = "",
    language: Annotated[str, typer.Option(help="fr, en, ...")] = "fr",
    variants: Annotated[int, typer.Option(min=1, max=5, help="Variants per network.")] = 2,
    wait: Annotated[
        bool, typer.Option(help="Wait until its drafts are in the review queue.")
    ] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the drafts.")] = 120.0,
    api_url: ApiUrl = None,
    key: Key = None,
) -> None:
    """Post a brief; with --wait (the default) show a progress bar until its drafts are in
    review."""
    api = Api(api_url, key)
    body = {
        "brand_id": brand,
        "topic": topic,
        "networks": network,
        "language": language,
        "variants": variants,
        "goal": goal,
        "key_message": key_message,
    }
    brief = api.call("POST", "/v1/briefs", {k: v for k, v in body.items() if v != ""})
    brief_id = brief["id"]
    typer.echo(f"brief {brief_id} posted")
    if not wait:
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    expected = variants * len(network)
    deadline = time.monotonic() + timeout
    with Progress(
        TextColumn("[bold]drafts in review"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    ) as progress:
        task = progress.add_task("drafts", total=expected)
        posts = _in_review(api, brief_id)
        while len(posts) < expected and time.monotonic() < deadline:
            progress.update(task, completed=len(posts))
            time.sleep(0.5)
            posts = _in_review(api, brief_id)
        progress.update(task, completed=min(len(posts), expected))
    if len(posts) < expected:
        fail(
            f"only {len(posts)} of {expected} drafts reached the review queue in {timeout:.0f} s; "
            "see `tamtam status`"
        )
    for post in posts:
        typer.echo(f"{post['id']}  {post.get('network', '')}  {str(post.get('text', ''))[:70]}")
    typer.echo("approve one with: tamtam review approve POST_ID")


@review_app.command("list")
def review_list(api_url: ApiUrl = None, key: Key = None, as_json: Json = False) -> None:
    """The posts waiting for a decision."""
    page = Api(api_url, key).call("GET", "/v1/posts", params={"state": "in_review", "limit": 200})
    rows = [("id", "network", "brand", "text")] + [
        (
            p["id"],
            str(p.get("network", "")),
            str(p.get("brand_id", "")),
            str(p.get("text", ""))[:60],
        )
        for p in page.get("items", [])
    ]
    show(page, as_json, rows)


@review_app.command("approve")
def review_approve(
    post_id: str,
    account: Annotated[str | None, typer.Option(help="The account to publish on.")] = None,
    comment: Annotated[str, typer.Option(help="A note for the audit log.")] = "",
    api_url: ApiUrl = None,
    key: Key = None,
) -> None:
    """Approve a post (approver or admin key): it is scheduled or published."""
    body: dict[str, Any] = {"decision": "approve"}
    if account:
        body["account_id"] = account
    if comment:
        body["comment"] = comment
    answer = Api(api_url, key).call("POST", f"/v1/posts/{post_id}/decision", body)
    state = answer.get("state", "approved") if isinstance(answer, dict) else "approved"
    typer.echo(f"post {post_id}: {state}")


@webhooks_app.command("create")
def webhooks_create(
    url: str,
    event: Annotated[
        list[str],
        typer.Option(
            help="Event to receive (repeat): posts.published, "
            "posts.failed, review.requested, alerts.crisis, "
            "brand.paused, brand.resumed."
        ),
    ] = ["posts.published"],  # noqa: B006
    api_url: ApiUrl = None,
    key: Key = None,
) -> None:
    """Subscribe a URL to events; the signing secret is printed once."""
    created = Api(api_url, key).call("POST", "/v1/webhooks", {"url": url, "events": event})
    typer.echo(f"webhook {created['id']} created for {', '.join(created['events'])}")
    typer.echo(f"signing secret (shown once, store it now): {created['secret']}")


@webhooks_app.command("list")
def webhooks_list(api_url: ApiUrl = None, key: Key = None, as_json: Json = False) -> None:
    """The agency's webhook subscriptions."""
    page = Api(api_url, key).call("GET", "/v1/webhooks", params={"limit": 200})
    rows = [("id", "url", "events", "active")] + [
        (w["id"], w["url"], ", ".join(w["events"]), "yes" if w["active"] else "no")
        for w in page["items"]
    ]
    show(page, as_json, rows)


@webhooks_app.command("deliveries")
def webhooks_deliveries(
    status: Annotated[str | None, typer.Option(help="pending, succeeded or failed.")] = None,
    api_url: ApiUrl = None,
    key: Key = None,
    as_json: Json = False,
) -> None:
    """The delivery log, newest first."""
    page = Api(api_url, key).call(
        "GET", "/v1/webhooks/deliveries", params={"status": status, "limit": 200}
    )
    rows = [("id", "event", "status", "attempts", "last code", "last error")] + [
        (
            d["id"],
            d["event_type"],
            d["status"],
            str(d["attempts"]),
            str(d["last_status_code"] or ""),
            d["last_error"][:40],
        )
        for d in page["items"]
    ]
    show(page, as_json, rows)


@webhooks_app.command("replay")
def webhooks_replay(delivery_id: str, api_url: ApiUrl = None, key: Key = None) -> None:
    """Send a delivery again."""
    Api(api_url, key).call("POST", f"/v1/webhooks/deliveries/{delivery_id}/replay")
    typer.echo(f"delivery {delivery_id} queued again")


@webhooks_app.command("listen")
def webhooks_listen(
    secret: Annotated[str, typer.Option(help="The subscription's whsec_... secret.")],
    port: Annotated[int, typer.Option(help="Port to listen on (127.0.0.1).")] = 9900,
) -> None:
    """A local receiver: verify each delivery's Standard Webhooks signature and print it."""
    from services.api.webhooks.receiver import serve_receiver

    typer.echo(f"listening on http://127.0.0.1:{port}/ (Ctrl-C to stop)")
    serve_receiver(port, secret, typer.echo)


@app.command()
def status(api_url: ApiUrl = None, key: Key = None, as_json: Json = False) -> None:
    """Readiness of the five services (through the api) and whether every Kafka topic exists."""
    from shared.events import all_topics

    answer = Api(api_url, key, timeout=15).call("GET", "/v1/status")
    settings = get_settings()
    try:
        from kafka.admin import KafkaAdminClient

        admin = KafkaAdminClient(
            bootstrap_servers=settings.bootstrap_servers,
            client_id="tamtam-cli",
            request_timeout_ms=5000,
        )
        try:
            existing = set(admin.list_topics())
        finally:
            admin.close()
    except Exception as error:  # report the broker as unreachable, not a traceback
        existing = None
        kafka_error = f"{type(error).__name__}"
    wanted = all_topics(settings.topic_prefix)
    if as_json:
        topics = None if existing is None else {t: t in existing for t in wanted}
        typer.echo(json.dumps({**answer, "topics": topics}, indent=2))
        return
    for service in answer["services"]:
        mark = "ready" if service["ready"] else "NOT READY"
        detail = ", ".join(f"{k}={v}" for k, v in service.get("checks", {}).items())
        typer.echo(f"{service['service']:<11} {mark:<10} {detail or service.get('error') or ''}")
    if existing is None:
        where = settings.bootstrap_servers
        typer.echo(f"topics      unknown: Kafka at {where} unreachable ({kafka_error})")
    else:
        missing = [t for t in wanted if t not in existing]
        typer.echo(
            f"topics      {len(wanted) - len(missing)}/{len(wanted)} present"
            + (f"; missing: {', '.join(missing)}" if missing else "")
        )
    if not answer["ready"]:
        raise typer.Exit(code=1)


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(app())
