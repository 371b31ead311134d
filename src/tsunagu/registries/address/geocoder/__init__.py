"""Address normalizer and geocoder: the addresses people write → ABR identifiers.

Output fields and match levels are abr-geocoder's (デジタル庁), so its users read ours unchanged.
"""

from tsunagu.registries.address.geocoder.index import AddressIndex, build_index
from tsunagu.registries.address.geocoder.matcher import (
    RESULT_FIELDS,
    TARGETS,
    Geocoder,
    GeocodeResult,
    MatchLevel,
)
from tsunagu.registries.address.geocoder.normalize import clean, fold
from tsunagu.registries.address.geocoder.service import app_geocoder
from tsunagu.registries.address.geocoder.source import (
    AddressSource,
    FileAddressSource,
    read_abr_csv,
)

__all__ = [
    "RESULT_FIELDS",
    "TARGETS",
    "AddressIndex",
    "AddressSource",
    "FileAddressSource",
    "GeocodeResult",
    "Geocoder",
    "MatchLevel",
    "app_geocoder",
    "build_index",
    "clean",
    "fold",
    "read_abr_csv",
]
