"""``tsunagu hub`` and ``tsunagu node``: the two roles of the public service mesh."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from tsunagu.cli import _engine, _plain_errors, _server_warnings, _settings
from tsunagu.db import make_sessionmaker


@click.group(invoke_without_command=True)
@click.option("--seed/--no-seed", default=True, help="Load the seed data if the catalog is empty.")
@click.pass_context
def hub(ctx: click.Context, seed: bool) -> None:
    """Run the hub (catalog site, trust services, log, mesh registry); subcommands administer it."""
    if ctx.invoked_subcommand is None:
        from tsunagu.cli import serve

        ctx.invoke(serve, host=None, port=None, seed=seed)


@hub.command("enrollments")
@_plain_errors
def hub_enrollments() -> None:
    """List node certificate requests (pending first)."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from tsunagu.mesh.models import Enrollment

    with _engine(_settings()) as engine, Session(engine) as session:
        rows = session.scalars(
            select(Enrollment).order_by(Enrollment.status.desc(), Enrollment.created_at)
        )
        for row in rows:
            click.echo(f"{row.id}  {row.status:9} {row.member_id}  {row.node_url}")


def _decide(enrollment_id: str, approve: bool) -> None:

    from tsunagu.mesh import hub as mesh_hub
    from tsunagu.trust import open_hub

    settings = _settings()
    with _engine(settings) as engine, make_sessionmaker(engine, immediate=True)() as session:
        if approve:
            cert = mesh_hub.approve_enrollment(session, open_hub(settings), enrollment_id)
            session.commit()
            click.echo(f"approved {enrollment_id}: certificate {cert.serial} for {cert.member_id}")
        else:
            mesh_hub.reject_enrollment(session, enrollment_id)
            session.commit()
            click.echo(f"rejected {enrollment_id}")


@hub.command("approve")
@click.argument("enrollment_id")
@_plain_errors
def hub_approve(enrollment_id: str) -> None:
    """Issue the node certificate a pending request asks for."""
    _decide(enrollment_id, True)


@hub.command("reject")
@click.argument("enrollment_id")
@_plain_errors
def hub_reject(enrollment_id: str) -> None:
    """Refuse a pending request."""
    _decide(enrollment_id, False)


@hub.command("export-log")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Write the export here instead of stdout.")  # fmt: skip
@_plain_errors
def hub_export_log(out_file: str | None) -> None:
    """Export the hub's message log (JSON Lines) for `tsunagu node verify-log`."""
    from pathlib import Path

    from tsunagu.mesh import hub as mesh_hub
    from tsunagu.mesh.api import message_view
    from tsunagu.mesh.messagelog import export_with
    from tsunagu.trust.services import load_hub

    settings = _settings()
    platform = load_hub(settings)
    with _engine(settings) as engine, make_sessionmaker(engine)() as session:
        lines = export_with(mesh_hub.hub_export_header(session, platform), session, message_view)
        if out_file is None:
            for line in lines:
                click.echo(line)
            return
        count = 0
        with Path(out_file).open("w", encoding="utf-8") as out:
            for line in lines:
                out.write(line + "\n")
                count += 1
        click.echo(f"wrote {out_file}: {max(count - 1, 0)} lines after the header")


@click.group(invoke_without_command=True)
@click.option(
    "--worker/--no-worker",
    default=None,
    help="Run the push delivery worker in this process (default: TSUNAGU_MESH_WORKER).",
)
@click.pass_context
@_plain_errors
def node(ctx: click.Context, worker: bool | None) -> None:
    """Run a mesh node (local API + mutual-TLS listener); subcommands set it up."""
    if ctx.invoked_subcommand is not None:
        return
    from tsunagu import __version__
    from tsunagu.app import create_node_app
    from tsunagu.kernel import load_settings
    from tsunagu.mesh.node import serve_node

    settings = _settings()
    if worker is not None:
        settings = load_settings(mesh_worker=worker)
    with _engine(settings) as engine:
        app = create_node_app(settings, engine)
        _server_warnings(engine)
        click.echo(
            f"tsunagu {__version__} node {settings.node_member}: local "
            f"{settings.effective_base_url}/ mesh {settings.effective_node_mesh_url}/",
            err=True,
        )
        serve_node(settings, app, app.state.node)


@node.command("init")
@click.option("--member", required=True, help="JP/{CLASS}/{法人番号} this node serves.")
@click.option("--hub", "hub_url", required=True, help="The hub's URL.")
@click.option(
    "--url",
    "mesh_url",
    default=None,
    help="URL other nodes reach this node at (default: TSUNAGU_NODE_MESH_URL).",
)
@_plain_errors
def node_init(member: str, hub_url: str, mesh_url: str | None) -> None:
    """Make the node key and CSR and ask the hub for a certificate; run again after approval."""
    from tsunagu.kernel import load_settings
    from tsunagu.mesh.client import HubClient
    from tsunagu.mesh.errors import MeshFault
    from tsunagu.mesh.identity import init_node, install_certificate, save_enrollment
    from tsunagu.trust.ca import MemberId

    overrides: dict[str, Any] = {"node_member": member, "node_hub_url": hub_url}
    if mesh_url:
        overrides["node_mesh_url"] = mesh_url
    settings = load_settings(**overrides)
    MemberId.parse(member)
    store, csr = init_node(settings, member)
    client = HubClient(settings, None)
    try:
        path = store.path("enrollment.json")
        if path.exists():
            known = json.loads(path.read_text(encoding="utf-8"))
            view = client.enrollment(known["id"])
        else:
            view = client.enroll(member, settings.effective_node_mesh_url, csr.decode("ascii"))
            save_enrollment(store, view["id"], hub_url)
    except MeshFault as exc:
        raise click.ClickException(exc.message) from None
    finally:
        client.close()
    if view["status"] == "approved":
        install_certificate(store, view["certificate"], view["chain"], view["anchor"])
        click.echo(f"node certificate installed in {store.directory}")
    elif view["status"] == "rejected":
        click.echo(f"error: the hub rejected enrollment {view['id']}", err=True)
        sys.exit(2)
    else:
        click.echo(
            f"enrollment {view['id']} is pending: ask the hub admin to run "
            f"`tsunagu hub approve {view['id']}`, then run this command again"
        )
        click.echo(view["id"])


@node.command("seed")
@click.option("--lg-code", "lg_codes", multiple=True, help="A municipality this node serves.")
@click.option("--corporations", is_flag=True, help="Load the corporate-number samples.")
@click.option(
    "--residents",
    type=int,
    default=500,
    show_default=True,
    help="Synthetic residents per municipality.",
)
@_plain_errors
def node_seed(lg_codes: tuple[str, ...], corporations: bool, residents: int) -> None:
    """Load this node's own seed data (laws; residents; corporations)."""
    from tsunagu.seed.node import load_node_seed

    with _engine(_settings()) as engine:
        counts = load_node_seed(
            engine, lg_codes, corporations=corporations, residents=residents, progress=True
        )
    click.echo(" ".join(f"{k}={v}" for k, v in counts.items()))


def _runtime() -> Any:
    from sqlalchemy import Engine

    from tsunagu.db import make_engine, migrate
    from tsunagu.mesh.node import open_runtime

    settings = _settings()
    engine: Engine = make_engine(settings.effective_database_url)
    migrate(engine)
    return open_runtime(settings, engine)


@node.command("persons-sync")
@click.option("--lg-code", required=True, help="The municipality whose residents to link.")
@_plain_errors
def node_persons_sync(lg_code: str) -> None:
    """Get this organization's pseudonyms for its current residents from the hub."""
    from tqdm import tqdm

    from tsunagu.mesh.persons import sync_residents

    rt = _runtime()
    with tqdm(desc="persons", unit="person", disable=not sys.stderr.isatty()) as bar:

        def advance(n: int) -> None:
            bar.update(n)

        new = sync_residents(rt, lg_code, advance)
    click.echo(f"{new} new pseudonyms")


@node.command("publish")
@_plain_errors
def node_publish() -> None:
    """Send this node's service list to the hub (trust list and catalog)."""
    from tsunagu.mesh.api import publish

    rt = _runtime()
    with rt.session() as session:
        click.echo(f"{publish(rt, session)} services published")


@node.command("prune")
@_plain_errors
def node_prune() -> None:
    """Delete message-log records older than TSUNAGU_MESH_MESSAGE_RETENTION_DAYS."""
    from datetime import timedelta

    from sqlalchemy import delete
    from sqlalchemy.orm import Session

    from tsunagu.kernel import naive_utcnow
    from tsunagu.mesh.models import MessageRecord

    settings = _settings()
    cutoff = naive_utcnow() - timedelta(days=settings.mesh_message_retention_days)
    with _engine(settings) as engine, Session(engine) as session:
        result = session.execute(delete(MessageRecord).where(MessageRecord.created_at < cutoff))
        session.commit()
    click.echo(
        f"{getattr(result, 'rowcount', 0)} message-log records older than {cutoff:%Y-%m-%d} deleted"
    )


@click.command("up")
@click.option(
    "--dir",
    "root",
    default="var/demo",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the federation keeps its state.",
)
@click.option("--seed/--no-seed", default=True, help="Load the hub's full seed data.")
@click.option(
    "--port",
    type=int,
    default=None,
    help="The hub's port (default: TSUNAGU_PORT); nodes use PORT+101…, PORT+441….",
)
@_plain_errors
def up(root: str, seed: bool, port: int | None) -> None:
    """Start the demo federation on loopback: the hub and four nodes, each its own process."""
    import signal
    import time
    from pathlib import Path

    from tsunagu.demo import Federation, try_text

    hub_port = port or _settings().port
    federation = Federation(
        Path(root),
        seed_hub=seed,
        hub_port=hub_port,
        base_port=hub_port + 100,
        mesh_base_port=hub_port + 440,
        sink_port=hub_port + 199,
        log=lambda text: click.echo(text, err=True),
    )
    stopping = False

    def stop(_signum: int, _frame: Any) -> None:
        # Whenever it comes: a first start sets up for minutes (the seed data), and a service
        # manager's SIGTERM must not wait for that. Once stopping, signals that come while the
        # processes are being stopped change nothing.
        nonlocal stopping
        if not stopping:
            stopping = True
            federation.interrupt()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)  # Ctrl-C the same way
    try:
        description = federation.start()
        description["file"] = str(Path(root) / "federation.json")
        click.echo(try_text(description))
        click.echo(
            f"tsunagu serving at {federation.hub_url}/ (Ctrl-C stops the federation)", err=True
        )
        while not stopping:
            for name, process in list(federation.processes.items()):
                if process.poll() is not None:
                    raise click.ClickException(
                        f"{name} stopped (exit {process.returncode}); see {root}/logs/{name}.log"
                    )
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    except RuntimeError as exc:
        raise click.ClickException(str(exc).splitlines()[0] if str(exc) else "failed") from None
    finally:
        federation.stop()


@click.command("demo-sink")
@click.option("--port", type=int, default=8199, show_default=True)
@click.option(
    "--out", default="var/demo/webhooks", show_default=True, type=click.Path(file_okay=False)
)
def demo_sink(port: int, out: str) -> None:
    """A stand-in local system for the demo: a webhook that stores what the node forwards."""
    from pathlib import Path

    import uvicorn

    from tsunagu.demo_sink import create_sink

    uvicorn.run(
        create_sink(Path(out)), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )


@node.command("services")
@_plain_errors
def node_services() -> None:
    """List this node's services and their access rules."""
    from sqlalchemy.orm import Session

    from tsunagu.mesh import services as mesh_services

    settings = _settings()
    with _engine(settings) as engine, Session(engine) as session:
        for service in mesh_services.services(session):
            flag = " personal" if service.personal_data else ""
            click.echo(
                f"{service.id}  {settings.node_member}/{service.subsystem}/{service.code}"
                f"  [{service.backend}{flag}]  {service.title}"
            )
            for rule in mesh_services.rules(session, service.id):
                sub = " +subscribe" if rule.allow_subscribe else ""
                click.echo(
                    f"    rule {rule.id}: {rule.client} for {','.join(rule.purposes)} "
                    f"on {rule.legal_basis}{sub}"
                )


@node.command("service-add")
@click.option("--subsystem", required=True)
@click.option("--code", required=True)
@click.option("--title", required=True)
@click.option(
    "--backend", required=True, type=click.Choice(["url", "address", "corporation", "resident"])
)
@click.option("--backend-url", default="", help="For --backend url: your system's base URL.")
@click.option(
    "--personal-data/--no-personal-data",
    default=None,
    help="Whether it returns personal data (default: only the resident backend).",
)
@click.option("--item", "items", multiple=True, help="A data item it returns (repeatable).")
@click.option(
    "--event-type",
    "event_types",
    multiple=True,
    help="A topic prefix it publishes, e.g. resident.person. (repeatable).",
)
@_plain_errors
def node_service_add(
    subsystem: str,
    code: str,
    title: str,
    backend: str,
    backend_url: str,
    personal_data: bool | None,
    items: tuple[str, ...],
    event_types: tuple[str, ...],
) -> None:
    """Declare a service and publish the node's service list to the hub."""
    from tsunagu.mesh import services as mesh_services
    from tsunagu.mesh.api import publish

    rt = _runtime()
    with rt.session() as session:
        row = mesh_services.declare_service(
            session,
            subsystem=subsystem,
            code=code,
            title=title,
            backend=backend,
            backend_url=backend_url,
            personal_data=personal_data,
            data_items=list(items) or None,
            event_types=event_types,
        )
        session.commit()
        click.echo(f"service {row.id}: {rt.member_base}/{subsystem}/{code}")
        click.echo(f"{publish(rt, session)} services published to the hub")


@node.command("rule-add")
@click.argument("service_id", type=int)
@click.option("--client", required=True, help="Member id, member/subsystem or group:NAME.")
@click.option("--purpose", "purposes", multiple=True, required=True, help="Repeatable.")
@click.option(
    "--legal-basis",
    required=True,
    help="Laws-registry unit, e.g. 415AC0000000057/article/69/paragraph/2/item/3.",
)
@click.option("--subscribe", is_flag=True, help="Also allow subscribing to the events.")
@_plain_errors
def node_rule_add(
    service_id: int, client: str, purposes: tuple[str, ...], legal_basis: str, subscribe: bool
) -> None:
    """Allow a client to call a service (deny by default)."""

    from tsunagu.mesh import services as mesh_services
    from tsunagu.mesh.api import law_known

    with _engine(_settings()) as engine, make_sessionmaker(engine, immediate=True)() as session:
        rule = mesh_services.add_rule(
            session,
            service_id,
            client,
            list(purposes),
            legal_basis,
            allow_subscribe=subscribe,
            known_law=law_known(session),
        )
        session.commit()
        click.echo(f"rule {rule.id}: {client} may call service {service_id}")


@node.command("rule-remove")
@click.argument("rule_id", type=int)
@_plain_errors
def node_rule_remove(rule_id: int) -> None:
    """Remove an access rule."""

    from tsunagu.mesh import services as mesh_services

    with _engine(_settings()) as engine, make_sessionmaker(engine, immediate=True)() as session:
        mesh_services.delete_rule(session, rule_id)
        session.commit()
        click.echo(f"rule {rule_id} removed")


@node.command("verify-log")
@click.argument("export_file", type=click.Path(dir_okay=False, path_type=str))
@click.option(
    "--anchor",
    "anchor_file",
    type=click.Path(dir_okay=False, path_type=str),
    help="The platform root certificate (PEM) to verify against; default: the one in the file.",
)
@_plain_errors
def node_verify_log(export_file: str, anchor_file: str | None) -> None:
    """Verify a message-log export offline: batch time-stamps, inclusion proofs, signatures."""
    from pathlib import Path

    from cryptography import x509

    from tsunagu.mesh.messagelog import verify_export

    anchor = None
    if anchor_file:
        try:
            anchor = x509.load_pem_x509_certificate(Path(anchor_file).read_bytes())
        except ValueError:
            raise ValueError(f"{anchor_file} is not a PEM certificate") from None
    try:
        text = Path(export_file).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{export_file} is not UTF-8 text") from None
    report = verify_export(text.splitlines(), anchor)
    if anchor is None:
        click.echo("note: trusting the root certificate in the file; pin it with --anchor")
    for failure in report.failures:
        click.echo(f"FAIL {failure}")
    if report.unsealed:
        shown = "; ".join(report.unsealed[:20]) + (" …" if len(report.unsealed) > 20 else "")
        click.echo(f"not yet time-stamped ({len(report.unsealed)}): {shown}")
    click.echo(
        f"{report.records} records, {report.sealed} in {report.batches} time-stamped batches, "
        f"{report.signatures} signatures verified, {len(report.failures)} failures: "
        + ("OK" if report.ok else "FAILED")
    )
    if not report.ok:
        sys.exit(1)


@node.group("local-cert")
def node_local_cert() -> None:
    """Client certificates of local systems (the HTTPS listener, TSUNAGU_NODE_LOCAL_TLS_PORT)."""


@node_local_cert.command("add")
@click.argument("name")
@click.argument("cert_file", type=click.Path(dir_okay=False, path_type=str))
@_plain_errors
def node_local_cert_add(name: str, cert_file: str) -> None:
    """Register CERT_FILE (PEM) as the client certificate of the local system NAME."""
    from pathlib import Path

    from tsunagu.mesh import localtls

    try:
        pem = Path(cert_file).read_text(encoding="ascii")
    except UnicodeDecodeError:
        raise ValueError(f"{cert_file} is not a PEM certificate") from None
    with _engine(_settings()) as engine, make_sessionmaker(engine, immediate=True)() as session:
        row = localtls.register(session, name, pem)
        session.commit()
        click.echo(f"registered #{row.id} {row.name}: {row.subject} (sha256 {row.fingerprint})")


@node_local_cert.command("list")
@_plain_errors
def node_local_cert_list() -> None:
    """List the registered local-system certificates."""
    from tsunagu.mesh import localtls

    with _engine(_settings()) as engine, make_sessionmaker(engine)() as session:
        for row in localtls.listing(session):
            state = localtls.status(row)
            if row.revoked_at:
                state += f" {row.revoked_at:%Y-%m-%d}"
            click.echo(
                f"{row.id}  {row.name}  {state}  until {row.not_after:%Y-%m-%d}  "
                f"{row.subject}  sha256 {row.fingerprint}"
            )


@node_local_cert.command("revoke")
@click.argument("certificate_id", type=int)
@_plain_errors
def node_local_cert_revoke(certificate_id: int) -> None:
    """Stop accepting a local system's certificate (a running node: within 10 seconds)."""
    from tsunagu.mesh import localtls

    with _engine(_settings()) as engine, make_sessionmaker(engine, immediate=True)() as session:
        row = localtls.revoke(session, certificate_id)
        session.commit()
        click.echo(f"revoked #{row.id} {row.name}")
