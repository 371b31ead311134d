"""URL reachability (MQA accessibility) and bounded downloads, for the quality job only.

Never called from a request: a slow server would hold it. Each URL gets a HEAD (a GET when the
server refuses HEAD) with the ``url_check_timeout``; the answer or the error is stored.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import IO

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from tsunagu import __version__
from tsunagu.kernel import naive_utcnow

from ..models import Dataset, Distribution
from .errors import FileTooLarge, UnreadableFile
from .models import UrlCheck

SPOOL_BYTES = 8 << 20  # downloads over 8 MB go to a temporary file, not memory


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


def new_client(timeout: float) -> httpx.Client:
    return httpx.Client(
        follow_redirects=True, max_redirects=5, timeout=timeout,
        headers={"User-Agent": f"tsunagu-quality/{__version__}"},
    )  # fmt: skip


def probe(client: httpx.Client, url: str) -> tuple[int | None, str]:
    """(HTTP status, error) of one URL: HEAD, or GET without reading the body."""
    try:
        response = client.head(url)
        if response.status_code in (403, 405, 501):
            with client.stream("GET", url) as streamed:
                return streamed.status_code, ""
        return response.status_code, ""
    except httpx.TimeoutException:
        return None, "timed out"
    except (httpx.HTTPError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def catalog_urls(session: Session) -> list[str]:
    """The access and download URLs of every public distribution, once each."""
    rows = session.execute(
        select(Distribution.url, Distribution.download_url)
        .join(Dataset, Dataset.pk == Distribution.dataset_pk)
        .where(Dataset.state == "active", Dataset.private.is_(False))
    ).all()
    urls = dict.fromkeys(
        u for pair in rows for u in pair if u and u.startswith(("http://", "https://"))
    )
    return list(urls)


def check_urls(
    session: Session, client: httpx.Client, *, max_age: timedelta | None = None,
    limit: int | None = None, progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:  # fmt: skip
    """Check the catalog's URLs not checked within ``max_age``; commits after each URL."""
    now = naive_utcnow()
    todo = catalog_urls(session)
    if max_age is not None:
        fresh = set(session.scalars(
            select(UrlCheck.url_hash).where(UrlCheck.checked_at >= now - max_age)))  # fmt: skip
        todo = [u for u in todo if url_hash(u) not in fresh]
    if limit is not None:
        todo = todo[:limit]
    counts = {"checked": 0, "ok": 0, "failed": 0}
    for number, url in enumerate(todo, start=1):
        status, error = probe(client, url)
        row = session.get(UrlCheck, url_hash(url)) or UrlCheck(url_hash=url_hash(url), url=url)
        row.status_code, row.error, row.checked_at = status, error, naive_utcnow()
        session.add(row)
        session.commit()
        counts["checked"] += 1
        counts["ok" if status is not None and 200 <= status < 300 else "failed"] += 1
        if progress:
            progress(number, len(todo))
    return counts


def statuses(session: Session) -> dict[str, int | None]:
    return dict(session.execute(select(UrlCheck.url, UrlCheck.status_code)).all())


@contextmanager
def download(client: httpx.Client, url: str, max_bytes: int) -> Iterator[IO[bytes]]:
    """The body of ``url`` in a spooled temporary file, cut off at ``max_bytes``."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        try:
            with client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise UnreadableFile(f"{url}: HTTP {response.status_code}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise FileTooLarge(f"{url}: {int(declared):,} bytes, over {max_bytes:,}")
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise FileTooLarge(f"{url}: the file is over {max_bytes:,} bytes")
                    spool.write(chunk)
        except httpx.TimeoutException as exc:
            raise UnreadableFile(f"{url}: no answer in time") from exc
        except httpx.HTTPError as exc:
            raise UnreadableFile(f"{url}: cannot be fetched ({type(exc).__name__})") from exc
        spool.seek(0)
        yield spool
