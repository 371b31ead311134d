"""Open-data quality: machine readability (総務省 2020 rules), 5-star rating and the EU MQA
metadata-quality score, with URL checks and snapshots run as a background job."""

from .errors import FileTooLarge, MacroWorkbook, UnknownEncoding, UnreadableFile
from .readability import Report, check_file
from .rules import Finding, rules
from .stars import stars

__all__ = [
    "FileTooLarge",
    "Finding",
    "MacroWorkbook",
    "Report",
    "UnknownEncoding",
    "UnreadableFile",
    "check_file",
    "rules",
    "stars",
]
