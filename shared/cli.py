"""`tamtam`: the command line for operators and scripts (Typer).

    tamtam run | stop                 the whole system on this machine (make run / make stop)
    tamtam migrate                    upgrade the database to the newest schema
    tamtam topics                     create the Kafka topics
    tamtam agency create NAME         a new agency and its first admin API key (shown once)
    tamtam secrets rotate             re-encrypt every account's credentials with the first key
"""

from __future__ import annotations

import sys

import typer

from shared.config import get_settings

app = typer.Typer(help="Tamtam: AI proposes, people decide.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
agency_app = typer.Typer(help="Agencies and their keys.", no_args_is_help=True)
secrets_app = typer.Typer(help="Secrets at rest.", no_args_is_help=True)
app.add_typer(agency_app, name="agency")
app.add_typer(secrets_app, name="secrets")


def fail(message: str) -> None:
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
    from shared.db import make_engine, make_session_factory, transaction

    from services.api.keys import create_agency

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
    """Re-encrypt every account's credentials with the first key of TAMTAM_SECRET_KEYS."""
    from sqlalchemy import select

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
    engine.dispose()
    typer.echo(f"{count} accounts re-encrypted")


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(app())
