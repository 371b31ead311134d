"""Use cases of the datastore: find a loaded table, describe it, adopt a standard dictionary."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tsunagu.accounts import Caller
from tsunagu.kernel import NotFound, ValidationProblem

from ..models import DataElement, Dataset, Distribution
from ..queries import get_resource
from .models import DatastoreTable
from .search import field_dicts


def get_table(session: Session, resource_id: str, caller: Caller | None) -> DatastoreTable:
    """The datastore table of a resource the caller may see; NotFound if none was loaded."""
    resource = get_resource(session, resource_id, caller)
    reg = session.scalar(
        select(DatastoreTable).where(DatastoreTable.distribution_pk == resource.pk)
    )
    if reg is None:
        raise NotFound(f"resource {resource_id!r} has no datastore table (load it first)")
    return reg


def distribution_of(session: Session, reg: DatastoreTable) -> Distribution:
    """The distribution (resource) a datastore table belongs to."""
    resource = session.get(Distribution, reg.distribution_pk)
    if resource is None:  # pragma: no cover - the foreign key cascades
        raise NotFound("the resource of this datastore table is gone")
    return resource


def loaded_resource_ids(session: Session, distribution_pks: list[int]) -> set[str]:
    """Ids of those distributions that have a datastore table."""
    if not distribution_pks:
        return set()
    rows = session.scalars(
        select(Distribution.id)
        .join(DatastoreTable, DatastoreTable.distribution_pk == Distribution.pk)
        .where(Distribution.pk.in_(distribution_pks))
    )
    return set(rows)


def info(reg: DatastoreTable, *, include_errors: bool = True) -> dict[str, Any]:
    """CKAN's ``datastore_info`` result plus the load's and the validation's row-level errors."""
    meta: dict[str, Any] = {
        "count": reg.row_count,
        "rejected_count": reg.rejected_count,
        "source": reg.source_name,
        "format": reg.file_format,
        "encoding": reg.encoding,
        "loaded_at": reg.loaded_at.isoformat(),
        "table_type": "BASE TABLE",
    }
    out: dict[str, Any] = {"meta": meta, "fields": field_dicts(reg)}
    if include_errors:
        out["load_errors"] = reg.load_errors
        out["validation"] = reg.validation
    return out


def standard_elements(session: Session, standard: str) -> list[DataElement]:
    """The data dictionary of a standard dataset (by name, e.g. ``suisho-aed``)."""
    dataset = session.scalar(select(Dataset).where(Dataset.name == standard))
    if dataset is None or not dataset.distributions:
        raise ValidationProblem(
            f"no standard dataset {standard!r} with a data dictionary; seed them with "
            "`tsunagu seed --only standards`",
            field="standard",
        )
    for distribution in dataset.distributions:
        if distribution.elements:
            return list(distribution.elements)
    raise ValidationProblem(f"{standard!r} has no data dictionary", field="standard")


def adopt_dictionary(session: Session, distribution: Distribution, standard: str) -> int:
    """Give the distribution the standard's data dictionary (replacing its own); item count."""
    source = standard_elements(session, standard)
    distribution.elements.clear()
    session.flush()
    for position, element in enumerate(source):
        distribution.elements.append(
            DataElement(
                position=position, name=element.name, label_ja=element.label_ja,
                definition=element.definition, data_type=element.data_type,
                unit=element.unit, pattern=element.pattern, required=element.required,
                code_list_name=element.code_list_name,
            )
        )  # fmt: skip
    conforms = distribution.extras.get("conforms_to") if distribution.extras else None
    if conforms != standard:
        distribution.extras = {**(distribution.extras or {}), "conforms_to": standard}
    session.flush()
    return len(source)
