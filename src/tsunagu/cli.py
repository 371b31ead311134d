"""The ``tsunagu`` command line. Errors print one plain line and exit with status 2."""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click
from sqlalchemy import Engine

from tsunagu import __version__
from tsunagu.kernel import Problem, Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])


def _plain_errors(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Problem as exc:
            click.echo(f"error: {exc.detail}", err=True)
            sys.exit(2)
        except FileNotFoundError as exc:
            click.echo(f"error: file not found: {exc.filename}", err=True)
            sys.exit(2)
        except ValueError as exc:  # settings and input parsing
            first = str(exc).strip().splitlines()
            click.echo(f"error: {first[0] if first else type(exc).__name__}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def _settings() -> Settings:
    try:
        return load_settings()
    except ValueError as exc:
        lines = [ln for ln in str(exc).splitlines() if ln.strip()]
        raise click.ClickException("invalid settings: " + " ".join(lines[:3])) from exc


@contextlib.contextmanager
def _engine(settings: Settings, migrate_first: bool = True) -> Iterator[Engine]:
    """An engine for one command, migrated first and disposed of at the end."""
    from tsunagu.db import make_engine, migrate

    engine = make_engine(settings.effective_database_url)
    try:
        if migrate_first:
            migrate(engine)
        yield engine
    finally:
        engine.dispose()


@click.group()
@click.version_option(__version__, prog_name="tsunagu")
def main() -> None:
    """tsunagu (つなぐ): national data platform — catalog, registries, mesh, trust."""


@main.command()
@_plain_errors
def migrate() -> None:
    """Create or upgrade the database schema (Alembic migrations)."""
    from tsunagu.db import current_revision

    settings = _settings()
    with _engine(settings) as engine:
        click.echo(f"database at revision {current_revision(engine)}")


@main.command()
@click.option("--host", default=None, help="Address to bind (default: TSUNAGU_HOST).")
@click.option("--port", type=int, default=None, help="Port (default: TSUNAGU_PORT).")
@click.option("--seed/--no-seed", default=True, help="Load the seed data if the catalog is empty.")
@_plain_errors
def serve(host: str | None, port: int | None, seed: bool) -> None:
    """Migrate, load seed data on first start, and serve the platform."""
    import uvicorn

    from tsunagu.app import create_app

    overrides: dict[str, Any] = {}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    settings = load_settings(**overrides)
    with _engine(settings) as engine:
        if seed:
            from tsunagu.seed import seed_if_empty

            seed_if_empty(engine, progress=True)
        app = create_app(settings, engine)
        _warm_address_index(app)
        click.echo(f"tsunagu {__version__} serving at {settings.effective_base_url}/", err=True)
        uvicorn.run(
            app, host=settings.host, port=settings.port, log_level="warning", access_log=False
        )


def _warm_address_index(app: Any) -> None:
    """Build the geocoder's index in the background, so the first address search is fast."""
    import threading

    from tsunagu.registries.address.geocoder import app_geocoder

    threading.Thread(
        target=app_geocoder, args=(app.state,), name="address-index", daemon=True
    ).start()


@main.command()
@click.option("--only", multiple=True, help="Load only these seed sources (repeatable).")
@_plain_errors
def seed(only: tuple[str, ...]) -> None:
    """Load the seed data (real catalogs and code lists); safe to run again."""
    from tsunagu.seed import load_seed

    settings = _settings()
    with _engine(settings) as engine:
        summary = load_seed(engine, only=only or None, progress=True)
        for name, count in summary.items():
            click.echo(f"{name}: {count}")


@main.command()
@_plain_errors
def reindex() -> None:
    """Rebuild the full-text search index from the catalog tables."""
    from tsunagu.catalog import rebuild_search_index
    from tsunagu.db import make_sessionmaker

    settings = _settings()
    with _engine(settings) as engine:
        with make_sessionmaker(engine)() as session:
            total = rebuild_search_index(session)
            session.commit()
        click.echo(f"reindexed {total} datasets")
        if settings.search_engine == "tantivy":
            from tqdm import tqdm

            from tsunagu.catalog.search_tantivy import TantivySearch

            search = TantivySearch.for_settings(settings)
            with tqdm(total=total, desc="tantivy", unit="datasets", disable=None) as bar:
                built = search.rebuild(engine, progress=bar.update)
            click.echo(f"built the tantivy index of {built} datasets in {search.path}")


@main.group()
def admin() -> None:
    """Administration: organizations and API tokens."""


@admin.command("create-org")
@click.argument("name")
@click.option("--title", required=True, help="Japanese name, e.g. 東京都.")
@click.option("--title-en", default="", help="English name.")
@click.option("--corporate-number", default=None, help="13-digit 法人番号 (check digit verified).")
@click.option("--lg-code", default=None, help="6-digit 全国地方公共団体コード, for a municipality.")
@_plain_errors
def create_org(
    name: str, title: str, title_en: str, corporate_number: str | None, lg_code: str | None
) -> None:
    """Create organization NAME (a URL slug such as tokyo-met)."""
    from tsunagu.accounts import create_organization
    from tsunagu.db import make_sessionmaker

    with _engine(_settings()) as engine, make_sessionmaker(engine)() as session:
        org = create_organization(
            session,
            name,
            title,
            title_en=title_en,
            corporate_number=corporate_number,
            lg_code=lg_code,
        )
        session.commit()
        click.echo(f"created organization {org.name} ({org.title})")


@admin.command("create-token")
@click.option("--org", "org", required=True, help="Organization name the token acts for.")
@click.option("--label", default="", help="What the token is for.")
@_plain_errors
def create_token(org: str, label: str) -> None:
    """Create an API token for an organization; the token is the last line of output."""
    from tsunagu.accounts import create_token as make_token
    from tsunagu.db import make_sessionmaker

    with _engine(_settings()) as engine, make_sessionmaker(engine)() as session:
        row, token = make_token(session, org, label)
        session.commit()
        click.echo(f"token {row.prefix}… for organization {org}; it is shown only once:", err=True)
        click.echo(token)


@admin.command("revoke-token")
@click.argument("prefix")
@_plain_errors
def revoke_token(prefix: str) -> None:
    """Revoke the token(s) starting with PREFIX (as printed by create-token)."""
    from tsunagu.accounts import revoke_token as revoke
    from tsunagu.db import make_sessionmaker

    with _engine(_settings()) as engine:
        with make_sessionmaker(engine)() as session:
            count = revoke(session, prefix.rstrip("…"))
            session.commit()
        click.echo(f"revoked {count} token(s)")


@main.group()
def corp() -> None:
    """Corporate registry (法人番号): import NTA and gBizINFO files."""


@corp.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--encoding", default=None, help="Force cp932 or utf-8 (default: detected).")
@_plain_errors
def corp_import(files: tuple[str, ...], encoding: str | None) -> None:
    """Import NTA CSV (Shift_JIS or Unicode), NTA XML or gBizINFO JSON FILES, each atomically."""
    from pathlib import Path

    from tqdm import tqdm

    from tsunagu.db import make_sessionmaker
    from tsunagu.registries.corporations import import_file, link_addresses

    with _engine(_settings()) as engine:
        for name in files:
            data = Path(name).read_bytes()
            # Rows are about 200 bytes; the bar counts rows as they are stored.
            with make_sessionmaker(engine)() as session, tqdm(
                total=max(1, data.count(b"\n")), desc=Path(name).name, unit="rows",
                leave=False, disable=None,
            ) as bar:  # fmt: skip
                report = import_file(session, data, name, encoding=encoding, progress=bar.update)
                session.commit()
            for line, reason in report.problems[:50]:
                click.echo(f"{name}:{line}: {reason}", err=True)
            if len(report.problems) > 50:
                click.echo(f"{name}: … {len(report.problems) - 50} more rejected rows", err=True)
            click.echo(report.summary())
        with make_sessionmaker(engine)() as session:
            linked = link_addresses(session)
            session.commit()
        if linked:
            click.echo(f"linked {linked} seats to the address registry")


@main.group()
def laws() -> None:
    """Laws (法令): import e-Gov 法令API v2 JSON and 法令標準XML."""


@laws.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_plain_errors
def laws_import(files: tuple[str, ...]) -> None:
    """Import law FILES (法令API v2 answers or 法令標準XML), each atomically."""
    from pathlib import Path

    from tsunagu.db import make_sessionmaker
    from tsunagu.registries.laws import import_law_file

    with _engine(_settings()) as engine:
        for name in files:
            with make_sessionmaker(engine)() as session:
                report = import_law_file(session, Path(name).read_bytes(), name)
                session.commit()
            for problem in report.problems:
                click.echo(f"{name}: {problem}", err=True)
            click.echo(report.summary())


@main.group()
def address() -> None:
    """Address base registry (アドレス・ベース・レジストリ): import ABR files."""


@address.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--max-errors", default=50, show_default=True, help="Broken rows to print per file.")
@_plain_errors
def address_import(paths: tuple[str, ...], max_errors: int) -> None:
    """Import ABR PATHS (zipped or plain CSV) — each CSV in one transaction, resumable."""
    from pathlib import Path

    from tsunagu.registries.address import FileReport, import_files

    def report(file: FileReport) -> None:
        for error in file.errors[:max_errors]:
            click.echo(f"{file.label}:{error.line}: {error.message}", err=True)
        if len(file.errors) > max_errors:
            more = len(file.errors) - max_errors
            click.echo(f"{file.label}: … {more} more broken rows", err=True)
        click.echo(file.summary())

    with _engine(_settings()) as engine:
        import_files(engine, [Path(p) for p in paths], progress=True, on_file=report)


@address.command("geocode")
@click.argument("addresses", nargs=-1)
@click.option("--target", type=click.Choice(["all", "residential", "parcel"]), default="all",
              show_default=True, help="住居表示 (residential), 地番 (parcel) or both.")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["json", "ndjson", "csv", "geojson"]),
              default="json", show_default=True, help="abr-geocoder's output format.")  # fmt: skip
@_plain_errors
def address_geocode(addresses: tuple[str, ...], target: str, fmt: str) -> None:
    """Geocode ADDRESSES, or one address per line on stdin, streaming the results."""
    from tsunagu.db import make_sessionmaker
    from tsunagu.registries.address.geocoder import build_index
    from tsunagu.registries.address.geocoder.commands import geocode_stream, read_lines
    from tsunagu.registries.address.geocoder.dbsource import DbAddressSource
    from tsunagu.registries.address.geocoder.matcher import Geocoder

    with _engine(_settings()) as engine:
        geocoder = Geocoder(build_index(DbAddressSource(make_sessionmaker(engine))))
    lines = iter(addresses) if addresses else read_lines(sys.stdin)
    out = sys.stdout
    for chunk in geocode_stream(geocoder, lines, target, fmt):
        out.write(chunk)
        if fmt == "ndjson":  # a pipe reader sees each result as soon as it is ready
            out.flush()
