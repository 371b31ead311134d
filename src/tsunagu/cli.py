"""The ``tsunagu`` command line. Errors print one plain line and exit with status 2."""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
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
        _trust_banner(app.state.settings)
        _server_warnings(engine)
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
@click.option(
    "--update",
    is_flag=True,
    help="If NAME exists, set its corporate number and lg code instead of failing.",
)
@_plain_errors
def create_org(
    name: str,
    title: str,
    title_en: str,
    corporate_number: str | None,
    lg_code: str | None,
    update: bool,
) -> None:
    """Create organization NAME (a URL slug such as tokyo-met)."""
    from tsunagu.accounts import create_organization, update_organization
    from tsunagu.db import make_sessionmaker
    from tsunagu.kernel import NotFound

    with _engine(_settings()) as engine, make_sessionmaker(engine)() as session:
        if update:
            try:
                org = update_organization(
                    session, name, corporate_number=corporate_number, lg_code=lg_code
                )
                session.commit()
                click.echo(f"updated organization {org.name} ({org.title})")
                return
            except NotFound:
                pass
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
        with make_sessionmaker(engine, immediate=True)() as session:  # read, then write: as above
            count = revoke(session, prefix.rstrip("…"))
            session.commit()
        click.echo(f"revoked {count} token(s)")


@main.group()
def corp() -> None:
    """Corporate registry (法人番号): import NTA and gBizINFO files."""


@corp.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--encoding", default=None, help="Force cp932 or utf-8 (default: detected).")
@click.option(
    "--workers", type=click.IntRange(min=0), default=None,
    help="Processes reading a CSV file's rows while this one stores them (0: none; default: "
    "one per core, at most 4, for files from 8 MB).",
)  # fmt: skip
@_plain_errors
def corp_import(files: tuple[str, ...], encoding: str | None, workers: int | None) -> None:
    """Import NTA CSV (Shift_JIS or Unicode), NTA XML or gBizINFO JSON FILES, each atomically."""
    from pathlib import Path

    from tqdm import tqdm

    from tsunagu.db import make_sessionmaker
    from tsunagu.registries.corporations import import_file, link_addresses

    with _engine(_settings()) as engine:
        for name in files:
            # The file is read in blocks, never whole (a 全件 file is over a gigabyte); the bar
            # counts rows as they are stored, out of the file's lines.
            with make_sessionmaker(engine)() as session, tqdm(
                total=max(1, _count_lines(Path(name))), desc=Path(name).name, unit="rows",
                leave=False, disable=None,
            ) as bar:  # fmt: skip
                report = import_file(session, Path(name), name, encoding=encoding,
                                     progress=bar.update, workers=workers)  # fmt: skip
                session.commit()
            for line, reason in report.problems[:50]:
                click.echo(f"{name}:{line}: {reason}", err=True)
            if report.rejected > 50:
                click.echo(f"{name}: … {report.rejected - 50} more rejected rows "
                           "(all in corporation_rejected_row)", err=True)  # fmt: skip
            click.echo(report.summary())
        with make_sessionmaker(engine)() as session:
            linked = link_addresses(session)
            session.commit()
        if linked:
            click.echo(f"linked {linked} seats to the address registry")


def _count_lines(path: Path) -> int:
    with path.open("rb") as stream:
        return sum(block.count(b"\n") for block in iter(lambda: stream.read(1 << 20), b""))


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


def _server_warnings(engine: Engine) -> None:
    """Say before serving what the database server's settings will cost (autovacuum off)."""
    from tsunagu.db import server_warnings

    for warning in server_warnings(engine):
        click.echo(f"WARNING: {warning}", err=True)


def _trust_banner(settings: Settings) -> None:
    """Open (in development mode: create) the hub's trust material before serving."""
    from tsunagu.trust import TrustError, open_hub

    try:
        open_hub(settings)
    except TrustError as exc:  # the site still serves; /trust and /tsa answer 503
        click.echo(f"trust services unavailable: {exc.detail}", err=True)
        return
    if settings.trust_dev_mode:
        click.echo(
            "WARNING: trust development mode: CA, TSA and trust-list keys were generated locally; "
            "NOT FOR PRODUCTION (set TSUNAGU_TRUST_DEV_MODE=false)",
            err=True,
        )


@main.group()
def trust() -> None:
    """Platform CA, node certificates and the signed trust list."""


@trust.command("init-ca")
@_plain_errors
def trust_init_ca() -> None:
    """Create the root and issuing CA, the TSA certificate and the trust-list signer."""
    from tsunagu.trust import init_ca
    from tsunagu.trust.services import trust_directory

    settings = _settings()
    hub = init_ca(settings)
    click.echo(f"created platform CA in {trust_directory(settings)}")
    click.echo(f"root: {hub.ca.root.subject.rfc4514_string()}")


@trust.command("issue")
@click.option("--csr", "csr_path", required=True, type=click.Path(dir_okay=False),
              help="PKCS #10 request (PEM or DER).")  # fmt: skip
@click.option("--member", required=True, help="Member id, e.g. JP/GOV/8000012010001/node1.")
@click.option("--url", default="", help="The node's URL (published in the trust list).")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write the certificate here instead of stdout.")  # fmt: skip
@_plain_errors
def trust_issue(csr_path: str, member: str, url: str, out: str | None) -> None:
    """Issue a node certificate (TLS server+client) for a registered member from a CSR."""
    from pathlib import Path

    from tsunagu.db import make_sessionmaker
    from tsunagu.trust import issue_node_certificate
    from tsunagu.trust.services import load_hub

    settings = _settings()
    hub = load_hub(settings)
    with _engine(settings) as engine, make_sessionmaker(engine)() as session:
        row = issue_node_certificate(session, hub, Path(csr_path).read_bytes(), member, url)
        session.commit()
    click.echo(f"issued serial {row.serial} to {row.member_id} until {row.not_after:%Y-%m-%d}",
               err=True)  # fmt: skip
    if out:
        Path(out).write_text(row.certificate_pem, encoding="ascii")
    else:
        click.echo(row.certificate_pem, nl=False)


@trust.command("revoke")
@click.argument("serial")
@click.option("--reason", default="unspecified", show_default=True,
              help="unspecified, key_compromise, affiliation_changed, superseded, "
              "cessation_of_operation.")  # fmt: skip
@_plain_errors
def trust_revoke(serial: str, reason: str) -> None:
    """Revoke the certificate with hex SERIAL; it leaves the next trust list and enters the CRL."""
    from tsunagu.db import make_sessionmaker
    from tsunagu.trust import revoke_certificate

    # Read, then write, on a database a running hub writes to: take SQLite's write lock at
    # BEGIN, or the upgrade fails at once ("database is locked") when the hub commits between.
    with _engine(_settings()) as engine, make_sessionmaker(engine, immediate=True)() as session:
        row = revoke_certificate(session, serial, reason)
        session.commit()
    click.echo(f"revoked {row.serial} ({row.member_id}) at {row.revoked_at:%Y-%m-%dT%H:%M:%SZ}")


def _trust_list_token(settings: Settings, source: str | None) -> str:
    """The trust list from a file, a URL, or (default) built and signed from the local hub."""
    if source and source.startswith(("http://", "https://")):
        import httpx

        reply = httpx.get(source, timeout=10)
        reply.raise_for_status()
        return reply.text.strip()
    if source:
        from pathlib import Path

        return Path(source).read_text(encoding="ascii").strip()
    from tsunagu.db import make_sessionmaker
    from tsunagu.trust.services import load_hub
    from tsunagu.trust.trustlist import build_trust_list, sign_trust_list

    hub = load_hub(settings)
    with _engine(settings) as engine, make_sessionmaker(engine)() as session:
        document = build_trust_list(
            session, hub, base_url=settings.effective_base_url,
            validity_seconds=settings.trust_list_validity, tsa_url=settings.tsa_url,
            log_vkey_file=settings.trust_log_vkey_file,
        )  # fmt: skip
    return sign_trust_list(document, hub)


@trust.command("show")
@click.option("--from", "source", default=None, help="File or URL of a trust list (JWS).")
@_plain_errors
def trust_show(source: str | None) -> None:
    """Print the trust list's document as JSON (no verification: see `trust verify`)."""
    import json

    from tsunagu.trust.jws import b64url_decode

    token = _trust_list_token(_settings(), source)
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a compact JWS")
    click.echo(json.dumps(json.loads(b64url_decode(parts[1])), ensure_ascii=False, indent=2))


@trust.command("verify")
@click.option("--from", "source", default=None, help="File or URL of a trust list (JWS).")
@click.option("--anchor", type=click.Path(dir_okay=False), default=None,
              help="Pinned root certificate (PEM); default: the local root-ca.pem.")  # fmt: skip
@_plain_errors
def trust_verify(source: str | None, anchor: str | None) -> None:
    """Verify a trust list's signature, chain to the anchor and expiry; exit 2 if invalid."""
    from pathlib import Path

    from cryptography import x509

    from tsunagu.trust import verify_trust_list
    from tsunagu.trust.services import trust_directory

    settings = _settings()
    anchor_path = Path(anchor) if anchor else trust_directory(settings) / "root-ca.pem"
    root = x509.load_pem_x509_certificate(anchor_path.read_bytes())
    checked = verify_trust_list(_trust_list_token(settings, source), root)
    members = len(checked.document.get("members", []))
    click.echo(f"valid trust list of {checked.document['instance']}: {members} members, "
               f"expires {checked.expires_at:%Y-%m-%dT%H:%M:%SZ}")  # fmt: skip


from tsunagu.ledger.cli import log as _log_commands  # noqa: E402 - after main exists

main.add_command(_log_commands)


@main.group()
def residents() -> None:
    """Resident registry (住民基本台帳): synthetic residents only."""


@residents.command("generate")
@click.option("--municipality", "lg_code", required=True, help="6-digit lg_code, e.g. 302015.")
@click.option("--count", type=int, required=True, help="How many residents to add.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same people.")
@click.option("--as-of", "as_of", default=None, help="Reference date YYYY-MM-DD (default: fixed).")
@_plain_errors
def residents_generate(lg_code: str, count: int, seed: int, as_of: str | None) -> None:
    """Add COUNT synthetic residents (never real people) at real ABR addresses of a municipality."""
    from datetime import date

    from tsunagu.db import make_sessionmaker
    from tsunagu.registries.residents import REFERENCE_DATE, generate

    reference = date.fromisoformat(as_of) if as_of else REFERENCE_DATE
    with _engine(_settings()) as engine, make_sessionmaker(engine)() as session:
        report = generate(session, lg_code, count, seed=seed, reference=reference)
        session.commit()
        click.echo(report.summary())


@residents.command("numbers")
@click.option("--lg-code", required=True, help="The municipality (6-digit code).")
@click.option("--limit", type=int, default=10, show_default=True, help="How many residents.")
@_plain_errors
def residents_numbers(lg_code: str, limit: int) -> None:
    """Print "resident_id individual_number" of current residents (the municipality's own
    staff only; synthetic data). Used to link residents and to try the demo federation."""
    from sqlalchemy.orm import Session

    from tsunagu.registries.residents import current_numbers

    if not 1 <= limit <= 100_000:
        raise click.BadParameter("limit is 1 to 100000", param_hint="--limit")
    with _engine(_settings()) as engine, Session(engine) as session:
        for resident_id, number in current_numbers(session, lg_code, "", limit):
            click.echo(f"{resident_id} {number}")


from tsunagu.cli_catalog import catalog as _catalog_commands  # noqa: E402 - after main exists

main.add_command(_catalog_commands)

from tsunagu.cli_mesh import demo_sink as _demo_sink  # noqa: E402
from tsunagu.cli_mesh import hub as _hub_commands  # noqa: E402 - after main exists
from tsunagu.cli_mesh import node as _node_commands  # noqa: E402
from tsunagu.cli_mesh import up as _up  # noqa: E402

main.add_command(_hub_commands)
main.add_command(_node_commands)
main.add_command(_up)
main.add_command(_demo_sink)
