"""``tsunagu catalog``: validate DCAT-AP files, export the catalog, harvest other catalogs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from tsunagu.cli import _engine, _plain_errors, _settings


@click.group()
def catalog() -> None:
    """Catalog interoperability: DCAT-AP 3 validation and export, harvesting."""


@catalog.command("validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "rdf_format", default=None,
              type=click.Choice(["turtle", "xml", "json-ld", "nt"]),
              help="RDF syntax (default: from the file name).")  # fmt: skip
@click.option("--recommended", is_flag=True, help="Also check the recommended properties.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@_plain_errors
def validate(file: Path, rdf_format: str | None, recommended: bool, as_json: bool) -> None:
    """Check FILE against the DCAT-AP 3.0.1 SHACL shapes; exit 1 if it does not conform."""
    import json

    from tsunagu.catalog.shacl import SUFFIX_FORMATS, text_report, validate_rdf

    fmt = rdf_format or SUFFIX_FORMATS.get(file.suffix.lower(), "turtle")
    report = validate_rdf(file.read_bytes(), fmt, recommended=recommended)
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(text_report(report))
    sys.exit(0 if report.conforms else 1)


@catalog.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", default="ttl", show_default=True,
              type=click.Choice(["ttl", "jsonld", "rdf"]), help="RDF syntax.")  # fmt: skip
@_plain_errors
def export(file: Path, fmt: str) -> None:
    """Write the whole catalog as DCAT-AP 3 to FILE, streamed (any size)."""
    from tsunagu.catalog.dcat_export import CatalogPage, export_catalog
    from tsunagu.db import make_sessionmaker

    settings = _settings()
    spec = CatalogPage(base=settings.effective_base_url, publisher=settings.dcat_publisher)
    with (
        _engine(settings) as engine,
        make_sessionmaker(engine)() as session,
        file.open("w", encoding="utf-8") as out,
    ):
        for piece in export_catalog(session, fmt, spec):
            out.write(piece)
    click.echo(f"wrote {file}")


@catalog.command("harvest")
@click.argument("url", required=False)
@click.option("--type", "kind", type=click.Choice(["ckan", "dcat"]), default=None,
              help="Source type (default: dcat for .ttl/.rdf/.jsonld, else ckan).")  # fmt: skip
@click.option("--org", default="", help="File every record under this organization (name).")
@click.option("--name", default=None, help="Name of the harvest source (default: from the URL).")
@click.option("--interval", type=click.IntRange(min=5), default=None,
              help="Minutes between scheduled runs (see --scheduled).")  # fmt: skip
@click.option("--scheduled", is_flag=True, help="Run every source whose interval is due.")
@_plain_errors
def harvest(
    url: str | None, kind: str | None, org: str, name: str | None, interval: int | None,
    scheduled: bool,
) -> None:  # fmt: skip
    """Harvest URL (a CKAN site or a DCAT RDF catalog) into the catalog; safe to run again."""
    from tqdm import tqdm

    from tsunagu.catalog.harvest.fetch import HarvestError
    from tsunagu.catalog.harvest.run import due_sources, ensure_source, limits_from, run_harvest
    from tsunagu.db import make_sessionmaker

    if bool(url) == scheduled:
        raise click.UsageError("give a URL or --scheduled (not both)")
    settings = _settings()
    limits = limits_from(settings)
    failed = False
    with _engine(settings) as engine, make_sessionmaker(engine)() as session:
        if scheduled:
            sources = due_sources(session)
        else:
            assert url is not None  # noqa: S101 -- checked above
            rdf = url.split("?")[0].endswith((".ttl", ".rdf", ".jsonld", ".xml"))
            try:
                source = ensure_source(
                    session,
                    url,
                    kind or ("dcat" if rdf else "ckan"),
                    name=name,
                    organization=org,
                    interval_minutes=interval,
                )
            except HarvestError as exc:  # a bad URL or interval: one error line
                raise ValueError(str(exc)) from None
            session.commit()  # fmt: skip
            sources = [source]
        for source in sources:
            with tqdm(desc=source.name, unit="page", disable=None) as bar:

                def progress(pages: int, records: int, bar: tqdm[Any] = bar) -> None:
                    bar.update(pages - bar.n)
                    bar.set_postfix(records=records)

                job = run_harvest(session, source, limits, progress=progress)
            click.echo(
                f"{source.name}: job {job.id} {job.status} — {job.found} read, "
                f"{job.inserted} added, {job.updated} updated, {job.unchanged} unchanged, "
                f"{job.withdrawn} withdrawn, {job.skipped} skipped"
            )
            if job.error:
                click.echo(f"error: {job.error}", err=True)
                failed = True
        if scheduled and not sources:
            click.echo("no harvest source is due")
    sys.exit(2 if failed else 0)


@catalog.command("datastore-load")
@click.argument("resource_id")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--encoding",
    default=None,
    help="CSV encoding (default: detected; UTF-8 with/without BOM, UTF-16, CP932).",
)
@click.option("--sheet", default=None, help="XLSX sheet to load (default: the first).")
@click.option(
    "--standard",
    default=None,
    help="Give the resource this standard dataset's data dictionary first "
    "(e.g. suisho-aed, jichitai-standard-public-toilet).",
)
@click.option("--no-validate", is_flag=True, help="Skip the Frictionless validation.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_plain_errors
def datastore_load(
    resource_id: str, file: Path, encoding: str | None, sheet: str | None,
    standard: str | None, no_validate: bool, as_json: bool,
) -> None:  # fmt: skip
    """Load FILE (CSV or XLSX) into the datastore table of resource RESOURCE_ID."""
    import json

    from sqlalchemy import select
    from sqlalchemy.engine import make_url
    from tqdm import tqdm

    from tsunagu.catalog import Distribution
    from tsunagu.catalog.datastore import adopt_dictionary, info, load_file
    from tsunagu.db import make_sessionmaker
    from tsunagu.kernel import NotFound

    settings = _settings()
    reader = settings.datastore_read_url
    grant_to = make_url(reader).username if reader else None
    with _engine(settings) as engine, make_sessionmaker(engine)() as session:
        resource = session.scalar(select(Distribution).where(Distribution.id == resource_id))
        if resource is None:
            raise NotFound(f"no resource {resource_id!r}")
        if standard:
            adopt_dictionary(session, resource, standard)
        bars: list[tqdm[Any]] = []  # started by the first 1,000 rows: errors stay one line

        def progress(rows: int) -> None:
            if not bars:
                bars.append(tqdm(desc="datastore", unit=" rows", unit_scale=True,
                                 disable=as_json))  # fmt: skip
            bars[0].update(rows)

        try:
            report = load_file(
                session, resource, file, encoding=encoding, sheet=sheet,
                validate=not no_validate, grant_to=grant_to,
                max_bytes=settings.datastore_max_bytes, progress=progress,
            )  # fmt: skip
        finally:
            for bar in bars:
                bar.close()
        session.commit()
        result = info(report.table)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2, default=str))
        return
    meta = result["meta"]
    click.echo(
        f"loaded {meta['count']} rows into {resource_id} ({meta['format']}"
        f"{', ' + meta['encoding'] if meta['encoding'] else ''}); "
        f"{meta['rejected_count']} rows rejected"
    )
    for error in result["load_errors"][:10]:
        click.echo(f"  row {error['row']} {error['field'] or ''}: {error['message']}")
    validation = result["validation"]
    if validation is not None:
        state = "valid" if validation["valid"] else f"{validation['error_count']} errors"
        click.echo(f"validation against the data dictionary: {state}")
        for error in validation["errors"][:10]:
            where = f"row {error['row']} " if error["row"] else ""
            click.echo(f"  {where}{error['type']}: {error['message']}")


@catalog.command("check-file")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--lang", type=click.Choice(["ja", "en"]), default="en", show_default=True)
@_plain_errors
def check_file_command(file: Path, as_json: bool, lang: str) -> None:
    """Check a CSV or XLSX FILE against the 15 machine-readability rules; exit 1 on findings."""
    import json

    from tsunagu.catalog.quality import check_file

    with file.open("rb") as body:
        report = check_file(body, file.name, max_bytes=_settings().quality_max_bytes)
    if as_json:
        click.echo(json.dumps(report.as_dict(lang), ensure_ascii=False, indent=2))
    else:
        click.echo(f"{file.name}: {report.format} {report.encoding} {report.rows} rows, "
                   f"{len(report.findings)} findings")  # fmt: skip
        for f in report.findings:
            click.echo(f"[{f.rule}] {f.where()}: {f.message(lang)} → {f.fix(lang)}")
    sys.exit(1 if report.findings else 0)


@catalog.command("check-urls")
@click.option("--max-age", type=click.IntRange(min=0), default=None,
              help="Skip URLs checked within this many hours.")  # fmt: skip
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Check at most N URLs.")
@_plain_errors
def check_urls_command(max_age: int | None, limit: int | None) -> None:
    """Request every distribution URL (HEAD, timeout url_check_timeout) and store the answers."""
    from datetime import timedelta

    from tqdm import tqdm

    from tsunagu.catalog.quality.urls import check_urls, new_client
    from tsunagu.db import make_sessionmaker

    settings = _settings()
    with (
        _engine(settings) as engine,
        make_sessionmaker(engine)() as session,
        new_client(settings.url_check_timeout) as client,
        tqdm(desc="urls", unit="url", disable=None) as bar,
    ):

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        counts = check_urls(
            session, client, max_age=timedelta(hours=max_age) if max_age is not None else None,
            limit=limit, progress=progress,
        )  # fmt: skip
    click.echo(f"{counts['checked']} URLs checked: {counts['ok']} answer 2xx, "
               f"{counts['failed']} do not")  # fmt: skip


@catalog.command("quality")
@click.option("--check-urls/--no-check-urls", default=True, show_default=True,
              help="Check URL reachability first (MQA accessibility).")  # fmt: skip
@_plain_errors
def quality_command(check_urls: bool) -> None:
    """Check every distribution file, score the catalog (MQA, 5 stars) and store a snapshot."""
    from tqdm import tqdm

    from tsunagu.catalog.quality.services import run_quality
    from tsunagu.catalog.quality.urls import check_urls as run_url_checks
    from tsunagu.catalog.quality.urls import new_client
    from tsunagu.db import make_sessionmaker

    settings = _settings()
    with (
        _engine(settings) as engine,
        make_sessionmaker(engine)() as session,
        new_client(settings.url_check_timeout) as client,
    ):
        if check_urls:
            counts = run_url_checks(session, client)
            click.echo(f"{counts['checked']} URLs checked, {counts['failed']} unreachable")
        with tqdm(desc="files", unit="file", disable=None) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            result = run_quality(session, client, max_bytes=settings.quality_max_bytes,
                                 base=settings.effective_base_url, progress=progress)  # fmt: skip
    click.echo(f"{result.files} files checked ({result.failed} unreadable), "
               f"{result.findings} findings; {result.datasets} datasets scored")  # fmt: skip
