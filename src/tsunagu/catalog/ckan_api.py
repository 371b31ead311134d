"""CKAN-compatible Action API at ``/api/3/action/<action>`` (and the ``/api/action/`` alias).

Existing CKAN clients (ckanapi, the CKAN harvesters, data.go.jp scripts) work unchanged: the same
action names, parameters, GET or POST (JSON or form-encoded), the same envelope
``{"help", "success", "result"}`` and the same error envelope. Errors are rendered here rather
than by the app-wide handler because the ``/api/action/`` alias is outside ``/api/3/``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse, Response

from tsunagu import __version__
from tsunagu.accounts import Caller
from tsunagu.db import make_engine
from tsunagu.http import MAX_OFFSET, ckan_error_body, get_caller, get_session, rate_limit
from tsunagu.http.errors import ckan_status
from tsunagu.kernel import (
    BadRequest,
    Forbidden,
    NotFound,
    Problem,
    ValidationProblem,
    unfit_text_error,
)

from . import ckan, datastore, queries
from .models import Dataset
from .search import SearchQuery, parse_fq
from .search import search as run_search
from .services import (
    authorize_edit,
    create_dataset,
    delete_dataset,
    get_dataset,
    get_datasets,
    parse_dataset,
    resolve_organization,
    update_dataset,
)
from .versions.services import snapshot_at

router = APIRouter(tags=["CKAN Action API"])

DEFAULT_SORT = "score desc, metadata_modified desc"
FACET_TITLES = {
    "organization": "組織",
    "groups": "グループ",
    "tags": "タグ",
    "res_format": "フォーマット",
    "license_id": "ライセンス",
    "municipality": "地方公共団体",
}


@dataclass
class Call:
    """One action call: its parameters (``data_dict``), the caller and the database session."""

    request: Request
    session: Session
    params: dict[str, Any]
    caller: Caller | None


@dataclass(frozen=True)
class Action:
    fn: Callable[[Call], Any]
    limit: str | None = None  # rate-limit kind
    write: bool = False


# ---------------------------------------------------------------- parameters


def _str(call: Call, key: str, *, required: bool = False, default: str = "") -> str:
    value = call.params.get(key)
    if value is None or value == "":
        if required:
            raise ValidationProblem("Missing value", field=key)
        return default
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValidationProblem(f"{key} must be a string", field=key)
    return str(value)


def _int(call: Call, key: str, default: int) -> int:
    """An integer parameter of at most MAX_OFFSET either way (-1 means "no limit" to some)."""
    value = call.params.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ValidationProblem(f"{key} must be an integer", field=key)
    number: int | None = None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        digits = value.strip().removeprefix("-")
        # isdigit() alone accepts '²' (int() refuses it) and full-width digits (int() takes them).
        # A long one is out of range anyway; int() would refuse more than 4300 digits.
        if digits.isascii() and digits.isdigit():
            number = int(value.strip()) if len(digits) <= 20 else MAX_OFFSET + 1
    if number is None:
        raise ValidationProblem(f"{key} must be an integer, got {value!r}", field=key)
    if abs(number) > MAX_OFFSET:  # beyond any table, and SQLite would overflow past 2**63
        raise ValidationProblem(f"{key} must be between -{MAX_OFFSET} and {MAX_OFFSET}", field=key)
    return number


def _bool(call: Call, key: str, default: bool = False) -> bool:
    value = call.params.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "1", "yes", "on"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"false", "0", "no", "off"}:
        return False
    raise ValidationProblem(f"{key} must be true or false, got {value!r}", field=key)


def _str_list(call: Call, key: str) -> list[str]:
    """A list parameter: a JSON list, or a JSON-encoded list in a string (CKAN's facet.field)."""
    value = call.params.get(key)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValidationProblem(
                f'{key} must be a JSON list of strings, e.g. ["organization", "tags"]', field=key
            ) from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationProblem(f"{key} must be a list of strings", field=key)
    return value


def _no_unfit_text(params: dict[str, Any]) -> None:
    # PostgreSQL rejects NUL in text, and a lone surrogate ("\ud800" in JSON) cannot be encoded
    # at all: a stray one must be a 409, not a database error (kernel.unfit_text).
    found = unfit_text_error(params)
    if found is not None:
        raise ValidationProblem(found[1], field=found[0])


async def _read_params(request: Request) -> dict[str, Any]:
    """CKAN's data_dict: query string for GET; JSON or form body for POST."""
    params: dict[str, Any] = dict(request.query_params)
    if request.method != "POST":
        return params
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        items = {k: v for k, v in form.items() if isinstance(v, str)}
        # `curl -d '{...}'` sends JSON labelled as a form; CKAN reads it as JSON, so do we.
        if len(items) == 1 and next(iter(items.values())) == "":
            only = next(iter(items))
            if only.lstrip().startswith("{"):
                return {**params, **_json_object(only.encode())}
        return {**params, **items}
    body = await request.body()
    if not body.strip():
        return params
    return {**params, **_json_object(body)}


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e400; JSON has no infinity and the answer could not echo it
        raise ValidationProblem(f"the number {text[:40]} in the request body is out of range")
    return number


def _no_constant(name: str) -> Any:
    # Python's json reads NaN and Infinity, which are not JSON (RFC 8259 §6).
    raise ValidationProblem(f"{name} is not a JSON number")


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body, parse_float=_finite, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("request body must be a JSON object")
    return data


def _help_url(request: Request, name: str) -> str:
    return f"{request.base_url}api/3/action/help_show?name={name}"


# ---------------------------------------------------------------- dispatch


async def call_action(
    action: str, request: Request, session: Annotated[Session, Depends(get_session)]
) -> Response:
    """Dispatch to the named action and wrap its result (or error) in CKAN's envelope."""
    try:
        spec = ACTIONS.get(action)
        if spec is None:
            raise NotFound(f"Action name not known: {action}")
        if spec.write and request.method != "POST":
            raise BadRequest(f"{action} changes data and must be called with POST")
        if spec.limit:
            rate_limit(spec.limit)(request)
        params = await _read_params(request)
        _no_unfit_text(params)
        result = await run_in_threadpool(_run, spec, request, session, params)
    except Problem as problem:
        headers = {}
        if "retry_after" in problem.extensions:
            headers["Retry-After"] = str(problem.extensions["retry_after"])
        return JSONResponse(
            ckan_error_body(problem, request), status_code=ckan_status(problem), headers=headers
        )
    body = {"help": _help_url(request, action), "success": True, "result": result}
    return JSONResponse(body)


_DESCRIPTION = (
    "CKAN 2.10-compatible Action API (see docs/api.md for actions and parameters). Reads accept "
    "GET with query parameters or POST; writes need POST and a token in the Authorization (or "
    "X-CKAN-API-Key) header. `/api/action/<action>` is an alias."
)
# What the actions answer besides 200, each in CKAN's envelope (docs/api.md#errors). CKAN
# answers 400, 403, 404 and 409 alike (409 is added with the envelope's schema by
# tsunagu.http.openapi); 401, 413, 429 and 503 are this platform's limits and token check.
_CKAN_ERRORS = {
    400: "Validation Error: the body is not a JSON object, or a write sent with GET",
    401: "Authorization Error: an unknown or revoked token",
    403: "Authorization Error: a write without a token, another organization's dataset, or "
    "SQL that is not a read of public datastore tables",
    404: "Not Found Error: no such action, dataset, resource, organization or group",
    413: "Validation Error: the body is larger than TSUNAGU_MAX_BODY_BYTES",
    429: "Rate Limit Error: too many requests (Retry-After)",
    503: "Internal Server Error: the database stayed busy (Retry-After), or the datastore's "
    "read-only role is not configured",
}
# A POST's data_dict, which _read_params reads by hand: a JSON object or a form.
_POST_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {"schema": {"type": "object", "additionalProperties": True}},
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "additionalProperties": {"type": "string"}}
            },
        },
    }
}
for _method in ("GET", "POST"):
    router.add_api_route(
        "/api/3/action/{action}",
        call_action,
        methods=[_method],
        summary=f"Call a CKAN action ({_method})",
        description=_DESCRIPTION,
        operation_id=f"ckan_action_{_method.lower()}",
        response_class=JSONResponse,
        responses={
            status: {"description": reason, "content": {"application/json": {}}}
            for status, reason in _CKAN_ERRORS.items()
            if status != 413 or _method == "POST"  # a GET's data_dict is its query string
        },
        openapi_extra=_POST_BODY if _method == "POST" else None,
    )
router.add_api_route(
    "/api/action/{action}", call_action, methods=["GET", "POST"], include_in_schema=False
)


def _run(spec: Action, request: Request, session: Session, params: dict[str, Any]) -> Any:
    caller = get_caller(request)
    if spec.write and caller is None:
        raise Forbidden("this action needs an API token in the Authorization header")
    return spec.fn(Call(request, session, params, caller))


# ---------------------------------------------------------------- actions


def status_show(call: Call) -> dict[str, Any]:
    """Site information: CKAN version compatibility, site URL and extensions."""
    settings = call.request.app.state.settings
    return {
        "site_title": "tsunagu",
        "site_description": "National data platform catalog",
        "site_url": settings.effective_base_url,
        "ckan_version": "2.10.4",
        "tsunagu_version": __version__,
        "error_emails_to": None,
        "locale_default": "ja",
        "extensions": ["tsunagu"],
    }


def help_show(call: Call) -> str:
    """The documentation of an action (parameter ``name``)."""
    name = _str(call, "name", required=True)
    spec = ACTIONS.get(name)
    if spec is None:
        raise NotFound(f"Action name not known: {name}")
    return spec.fn.__doc__ or ""


def package_list(call: Call) -> list[str]:
    """Names of all public datasets (``limit``, ``offset``)."""
    limit = _int(call, "limit", -1)
    offset = _int(call, "offset", 0)
    if offset < 0:
        raise ValidationProblem("offset must not be negative", field="offset")
    return queries.list_dataset_names(call.session, None if limit < 0 else limit, offset)


def package_search(call: Call) -> dict[str, Any]:
    """Search datasets: q, fq, facet.field, facet.limit, rows, start, sort, include_private."""
    q = _str(call, "q")
    if q.strip() in ("*:*", "*"):
        q = ""  # Solr's match-all
    filters = parse_fq(_str(call, "fq"))
    for extra in _str_list(call, "fq_list"):
        filters += parse_fq(extra)
    facet_fields = _str_list(call, "facet.field") if _bool(call, "facet", True) else []
    facet_limit = _int(call, "facet.limit", 50)
    if facet_limit < 0:
        facet_limit = 1000  # CKAN: -1 means unlimited
    sort = _str(call, "sort", default=DEFAULT_SORT)
    include_private = _bool(call, "include_private") and call.caller is not None
    query = SearchQuery(
        q=q,
        filters=filters,
        facet_fields=tuple(dict.fromkeys(facet_fields)),
        facet_limit=facet_limit,
        sort=sort,
        rows=_int(call, "rows", 10),
        start=_int(call, "start", 0),
        private_org_ids=(call.caller.organization_id,) if include_private and call.caller else (),
    )
    max_rows = call.request.app.state.settings.search_max_rows
    result = run_search(call.session, query, max_rows=max_rows)
    datasets = get_datasets(call.session, result.dataset_pks)
    return {
        "count": result.count,
        "sort": sort,
        "results": [ckan.package_dict(d) for d in datasets],
        **search_facets(call.session, result.facets),
    }


def search_facets(session: Session, facets: dict[str, list[tuple[str, int]]]) -> dict[str, Any]:
    """CKAN's two facet shapes: ``facets`` {field: {value: n}} and ``search_facets``."""
    plain: dict[str, dict[str, int]] = {}
    rich: dict[str, Any] = {}
    for field, values in facets.items():
        titles = queries.facet_titles(session, field, [v for v, _ in values])
        plain[field] = dict(values)
        rich[field] = {
            "title": FACET_TITLES.get(field, field),
            "items": [{"name": v, "display_name": titles.get(v, v), "count": n} for v, n in values],
        }
    return {"facets": plain, "search_facets": rich}


def _package_ident(call: Call) -> str:
    ident = call.params.get("id") or call.params.get("name")
    if not isinstance(ident, str) or not ident:
        raise ValidationProblem("Missing value: give the dataset's id or name", field="id")
    return ident


def _show(call: Call, ds: Dataset) -> dict[str, Any]:
    # Reload after commit so relationships (licence, organization) reflect the new values.
    call.session.expire_all()
    return ckan.package_dict(get_dataset(call.session, ds.id, call.caller))


def package_show(call: Call) -> dict[str, Any]:
    """One dataset by ``id`` or name (private ones only with a token of their organization).

    ``version`` (a version number) or ``as_of`` (a date or date-time) give the dataset as it
    was recorded then (tsunagu's versioning); without them, the latest.
    """
    ident = _package_ident(call)
    past = snapshot_at(
        call.session, ident, call.caller,
        version=_str(call, "version") or None, as_of=_str(call, "as_of") or None,
    )  # fmt: skip
    if past is not None:
        return past
    return ckan.package_dict(get_dataset(call.session, ident, call.caller))


def package_create(call: Call) -> dict[str, Any]:
    """Create a dataset from a CKAN package dict; needs a token of ``owner_org``."""
    data = parse_dataset(call.params)
    ds = create_dataset(call.session, call.caller, data)
    call.session.commit()
    return _show(call, ds)


def package_update(call: Call) -> dict[str, Any]:
    """Replace a dataset (by ``id`` or ``name``) with the given package dict."""
    ds = get_dataset(call.session, _package_ident(call), call.caller)
    authorize_edit(call.session, call.caller, ds)
    data = parse_dataset(call.params)
    ds = update_dataset(call.session, call.caller, ds.id, data)
    call.session.commit()
    return _show(call, ds)


def package_patch(call: Call) -> dict[str, Any]:
    """Change only the given fields of a dataset (by ``id`` or ``name``)."""
    ds = get_dataset(call.session, _package_ident(call), call.caller)
    authorize_edit(call.session, call.caller, ds)
    merged = ckan.merge_patch(ckan.package_dict(ds), call.params)
    data = parse_dataset(merged)
    ds = update_dataset(call.session, call.caller, ds.id, data)
    call.session.commit()
    return _show(call, ds)


def package_delete(call: Call) -> None:
    """Delete a dataset (``id`` or name): it leaves search and reads, history is kept."""
    delete_dataset(call.session, call.caller, _package_ident(call))
    call.session.commit()


def _paging(call: Call) -> tuple[int | None, int]:
    limit = _int(call, "limit", -1)
    offset = _int(call, "offset", 0)
    if offset < 0:
        raise ValidationProblem("offset must not be negative", field="offset")
    return (None if limit < 0 else limit), offset


def organization_list(call: Call) -> list[Any]:
    """Organization names, or dicts with ``all_fields`` (``sort``, ``limit``, ``offset``)."""
    limit, offset = _paging(call)
    pairs = queries.list_organizations(
        call.session, sort=_str(call, "sort", default="name asc"), limit=limit, offset=offset
    )
    if _bool(call, "all_fields"):
        return [ckan.organization_dict(o, n) for o, n in pairs]
    return [o.name for o, _ in pairs]


def organization_show(call: Call) -> dict[str, Any]:
    """One organization by ``id`` or name; ``include_datasets`` adds up to 1000 datasets."""
    ident = _str(call, "id", required=True)
    org = resolve_organization(call.session, ident)
    count = queries.organization_counts(call.session).get(org.id, 0)
    out = ckan.organization_dict(org, count)
    if _bool(call, "include_datasets"):
        result = run_search(
            call.session,
            SearchQuery(filters=(("organization", org.name),), sort="name", rows=1000),
        )
        out["packages"] = [
            ckan.package_dict(d) for d in get_datasets(call.session, result.dataset_pks)
        ]
    return out


def group_list(call: Call) -> list[Any]:
    """Group (theme) names, or dicts with ``all_fields``."""
    limit, offset = _paging(call)
    pairs = queries.list_groups(
        call.session, sort=_str(call, "sort", default="name asc"), limit=limit, offset=offset
    )
    if _bool(call, "all_fields"):
        return [ckan.group_dict(g, n) for g, n in pairs]
    return [g.name for g, _ in pairs]


def group_show(call: Call) -> dict[str, Any]:
    """One group by ``id`` or name."""
    group, count = queries.get_group(call.session, _str(call, "id", required=True))
    return ckan.group_dict(group, count)


def tag_list(call: Call) -> list[Any]:
    """Tags of public datasets; ``query`` filters by substring, ``all_fields`` gives dicts."""
    names = queries.list_tags(call.session, _str(call, "query"))
    if _bool(call, "all_fields"):
        return [ckan.tag_dict(n) for n in names]
    return names


def license_list(call: Call) -> list[dict[str, Any]]:
    """Licences datasets may carry."""
    return [ckan.license_dict(lic) for lic in queries.list_licenses(call.session)]


def resource_show(call: Call) -> dict[str, Any]:
    """One resource (distribution) by ``id``."""
    res = queries.get_resource(call.session, _str(call, "id", required=True), call.caller)
    return ckan.resource_dict(res, res.dataset.id)


# ---------------------------------------------------------------- datastore


def datastore_search(call: Call) -> dict[str, Any]:
    """Rows of a resource's datastore table: ``filters``, ``q``, ``fields``, ``sort``,
    ``limit`` (default 100, at most 32000), ``offset``, ``include_total``."""
    reg = datastore.get_table(call.session, _str(call, "resource_id", required=True), call.caller)
    filters = datastore.parse_object(call.params.get("filters") or {}, "filters")
    if not isinstance(filters, dict):
        raise ValidationProblem("filters must be a JSON object", field="filters")
    q = datastore.parse_object(call.params.get("q") or "", "q")
    if not isinstance(q, str | dict):
        raise ValidationProblem("q must be text or an object of field: text", field="q")
    request = datastore.SearchRequest(
        filters=filters, q=q, fields=datastore.parse_fields(call.params.get("fields")),
        sort=_str(call, "sort"), limit=_int(call, "limit", datastore.DEFAULT_LIMIT),
        offset=_int(call, "offset", 0), include_total=_bool(call, "include_total", True),
    )  # fmt: skip
    return datastore.search(call.session, reg, request)


def datastore_search_sql(call: Call) -> dict[str, Any]:
    """One read-only SQL statement (``sql``) over the datastore tables of public datasets
    (table name: the resource id in double quotes), with a time limit."""
    settings = call.request.app.state.settings
    return datastore.run_sql(
        call.session, _str(call, "sql", required=True),
        timeout_ms=settings.datastore_sql_timeout_ms, max_rows=datastore.MAX_LIMIT,
        read_engine=_datastore_read_engine(call.request),
    )  # fmt: skip


def datastore_info(call: Call) -> dict[str, Any]:
    """Fields and row count of a resource's datastore table (``id``), with the rows the load
    rejected and the Frictionless validation against the data dictionary."""
    ident = _str(call, "id") or _str(call, "resource_id", required=True)
    return datastore.info(datastore.get_table(call.session, ident, call.caller))


def datastore_delete(call: Call) -> dict[str, Any]:
    """Drop a resource's datastore table (``resource_id``); the resource itself stays."""
    resource_id = _str(call, "resource_id", required=True)
    reg = datastore.get_table(call.session, resource_id, call.caller)
    resource = queries.get_resource(call.session, resource_id, call.caller)
    authorize_edit(call.session, call.caller, resource.dataset)
    datastore.drop_table(call.session, resource)
    call.session.commit()
    return {"resource_id": reg.table_name}


def _datastore_read_engine(request: Request) -> Engine | None:
    url = request.app.state.settings.datastore_read_url
    if not url:
        return None
    engine: Engine | None = getattr(request.app.state, "datastore_read_engine", None)
    if engine is None:
        engine = make_engine(url)
        request.app.state.datastore_read_engine = engine
    return engine


ACTIONS: dict[str, Action] = {
    "status_show": Action(status_show),
    "help_show": Action(help_show),
    "package_list": Action(package_list),
    "package_search": Action(package_search, limit="search"),
    "package_show": Action(package_show),
    "package_create": Action(package_create, limit="write", write=True),
    "package_update": Action(package_update, limit="write", write=True),
    "package_patch": Action(package_patch, limit="write", write=True),
    "package_delete": Action(package_delete, limit="write", write=True),
    "organization_list": Action(organization_list),
    "organization_show": Action(organization_show),
    "group_list": Action(group_list),
    "group_show": Action(group_show),
    "tag_list": Action(tag_list),
    "license_list": Action(license_list),
    "resource_show": Action(resource_show),
    "datastore_search": Action(datastore_search, limit="search"),
    "datastore_search_sql": Action(datastore_search_sql, limit="search"),
    "datastore_info": Action(datastore_info),
    "datastore_delete": Action(datastore_delete, limit="write", write=True),
}

__all__ = ["ACTIONS", "router", "search_facets"]
