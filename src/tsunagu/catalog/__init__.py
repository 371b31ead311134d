"""Catalog: datasets, distributions, data services, data dictionary, code lists and search."""

from .models import (
    CodeList,
    CodeListEntry,
    DataElement,
    Dataset,
    DatasetFacet,
    DatasetGroup,
    DatasetMunicipality,
    DatasetTag,
    DataService,
    Distribution,
    Group,
    License,
    Source,
)
from .licenses import LICENSES, ensure_licenses
from .schemas import DatasetIn, ResourceIn
from .search import FACET_FIELDS, SearchQuery, SearchResult, parse_fq
from .search import search as search_datasets
from .services import (
    create_dataset,
    delete_dataset,
    get_dataset,
    get_datasets,
    parse_dataset,
    rebuild_search_index,
    reindex,
    update_dataset,
    validation_problem,
)

__all__ = [
    "FACET_FIELDS",
    "LICENSES",
    "CodeList",
    "CodeListEntry",
    "DataElement",
    "DataService",
    "Dataset",
    "DatasetFacet",
    "DatasetGroup",
    "DatasetIn",
    "DatasetMunicipality",
    "DatasetTag",
    "Distribution",
    "Group",
    "License",
    "ResourceIn",
    "SearchQuery",
    "SearchResult",
    "Source",
    "create_dataset",
    "delete_dataset",
    "ensure_licenses",
    "get_dataset",
    "get_datasets",
    "parse_dataset",
    "parse_fq",
    "rebuild_search_index",
    "reindex",
    "search_datasets",
    "update_dataset",
    "validation_problem",
]
