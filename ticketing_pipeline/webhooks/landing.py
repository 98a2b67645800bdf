"""The landing area: durable files of received webhook deliveries, and the API to consume them.

Layout under ``<data_dir>/landing``::

    incoming/      deliveries waiting to be loaded            <sha256>.json
    processed/     loaded; kept so a redelivery is recognised  <sha256>.json
    failed/        the load failed; the reason is beside it    <sha256>.json + <sha256>.reason.txt
    dead-letter/   authenticated but malformed bodies          <sha256>.json (with "reason" inside)
    .tmp/          files being written (same filesystem, so the final rename is atomic)

A file's name is the SHA-256 of (platform, account id, delivery id): derived only from values the
server trusts, so a request can never choose a path, and the same delivery always maps to the same
name, which is what makes landing idempotent. (Eventbrite sends no per-delivery id, so the receiver
gives each Eventbrite delivery a fresh one: every Eventbrite delivery gets its own file.) Files
are published with ``link(2)``, which, unlike ``rename(2)``, never replaces an existing file: two
receiver processes landing the same delivery at once store it once. Each file's mtime is set to
the time the delivery was received, so listing sorts by receipt without opening files.
"""

from __future__ import annotations

import base64
import contextlib
import enum
import errno
import functools
import hashlib
import itertools
import os
import re
import secrets
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict

INCOMING = "incoming"
PROCESSED = "processed"
FAILED = "failed"
DEAD_LETTER = "dead-letter"
FOLDERS = (INCOMING, PROCESSED, FAILED, DEAD_LETTER)
TMP = ".tmp"
FORMAT_VERSION = 1

_NAME = re.compile(r"^[0-9a-f]{64}\.json$")
_REASON_SUFFIX = ".reason.txt"
# Temp files older than this were left by a process that died mid-write; anything younger may
# belong to a live receiver process writing into the same area.
_STALE_TMP_SECONDS = 3600


class LandingError(Exception):
    """A delivery could not be made durable (disk full, unwritable folder, I/O error)."""


class StoreOutcome(enum.Enum):
    STORED = "stored"
    DUPLICATE = "duplicate"


Kind = Literal["eventbrite_reference", "relay"]


class LandedDelivery(BaseModel):
    """The content of one landed file (also of a dead-letter file, which adds ``reason``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    format: int = FORMAT_VERSION
    delivery_id: str
    platform: str
    account_id: str
    kind: Kind
    # Eventbrite ``config.action`` or the relay envelope's ``type``; may be "" in dead-letter files.
    action: str
    received_at: datetime
    # Only the headers a loader may need (event, delivery, signature timestamp, user agent, ...);
    # never anything secret.
    headers: dict[str, str]
    # Eventbrite: the object to fetch with the account's token (checked against its API base).
    api_url: str | None = None
    # Eventbrite: the ``X-Eventbrite-Delivery`` header, which is the *webhook's* id (the same on
    # every delivery of that webhook), kept for tracing only; absent from relays and older files.
    webhook_id: str | None = None
    body_encoding: Literal["text", "base64"]
    body: str
    reason: str | None = None

    @property
    def account_key(self) -> str:
        return f"{self.platform}-{self.account_id}"

    def raw_body(self) -> bytes:
        if self.body_encoding == "base64":
            return base64.b64decode(self.body)
        return self.body.encode()

    def payload(self) -> Any:
        """The body parsed as JSON, numbers with a fraction as ``Decimal`` (money is exact)."""
        import json

        return json.loads(self.raw_body(), parse_float=Decimal)


@dataclass(frozen=True, order=True)
class LandedFile:
    """A file in one of the landing folders; sorts by time of receipt."""

    received_ns: int
    name: str
    path: Path
    size: int

    @property
    def received_at(self) -> datetime:
        return datetime.fromtimestamp(self.received_ns / 1e9, tz=UTC)


def delivery_file_name(platform: str, account_id: str, delivery_id: str) -> str:
    """The file name of a delivery: a hash, so no request text ever reaches the filesystem."""
    digest = hashlib.sha256(f"{platform}\x00{account_id}\x00{delivery_id}".encode()).hexdigest()
    return f"{digest}.json"


def encode_delivery(
    *,
    delivery_id: str,
    platform: str,
    account_id: str,
    kind: Kind,
    action: str,
    received_ns: int,
    headers: dict[str, str],
    body: bytes,
    api_url: str | None = None,
    reason: str | None = None,
    webhook_id: str | None = None,
) -> bytes:
    """Serialise a delivery to the landed-file JSON (the shape of ``LandedDelivery``)."""
    try:
        text: str | None = body.decode()
    except UnicodeDecodeError:
        text = None
    record: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "delivery_id": delivery_id,
        "platform": platform,
        "account_id": account_id,
        "kind": kind,
        "action": action,
        "received_at": format_time(received_ns),
        "headers": headers,
        "api_url": api_url,
        "body_encoding": "text" if text is not None else "base64",
        "body": text if text is not None else base64.b64encode(body).decode(),
    }
    if webhook_id is not None:
        record["webhook_id"] = webhook_id
    if reason is not None:
        record["reason"] = reason
    return orjson.dumps(record)


def format_time(ns: int) -> str:
    """UTC ISO 8601 with microseconds and a ``Z``."""
    seconds, rest = divmod(ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{rest // 1000:06d}Z"


@dataclass(frozen=True)
class PendingFile:
    """One file to make durable: published as ``<folder>/<name>`` with mtime ``received_ns``."""

    folder: str
    name: str
    data: bytes
    received_ns: int
    # True: the id names one delivery (a relay's webhook-id), so one already loaded (processed/ or
    # failed/) is not landed again. False: the id was made up by the receiver for this delivery
    # (Eventbrite), so it cannot have been loaded and the check would only cost two stat calls.
    skip_if_loaded: bool = True


class LandingArea:
    """The landing folders under ``root``; safe for several processes at once.

    Writers (the receiver) use ``store_batch``; the sensor/loader uses ``list_incoming``, ``read``,
    ``mark_processed``, ``mark_failed`` and ``counts``.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._tmp_seq = itertools.count()
        self._tmp_prefix = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._tmp_lock = threading.Lock()
        # Plain strings for the write path: it runs per delivery, and pathlib costs microseconds.
        self._dirs = {name: os.path.join(self.root, name) for name in FOLDERS}

    @classmethod
    def for_data_dir(cls, data_dir: Path | str) -> LandingArea:
        return cls(Path(data_dir) / "landing")

    # -- layout ------------------------------------------------------------------------------

    def folder(self, name: str) -> Path:
        if name not in FOLDERS and name != TMP:
            raise ValueError(f"unknown landing folder {name!r}")
        return self.root / name

    @property
    def incoming(self) -> Path:
        return self.root / INCOMING

    @property
    def processed(self) -> Path:
        return self.root / PROCESSED

    @property
    def failed(self) -> Path:
        return self.root / FAILED

    @property
    def dead_letter(self) -> Path:
        return self.root / DEAD_LETTER

    def ensure(self) -> None:
        """Create the folders (idempotent) and remove temp files a dead process left behind."""
        for name in (*FOLDERS, TMP):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        self._remove_stale_tmp()

    def _remove_stale_tmp(self) -> None:
        cutoff = datetime.now(UTC).timestamp() - _STALE_TMP_SECONDS
        with contextlib.suppress(OSError), os.scandir(self.root / TMP) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)

    # -- reading (sensor / loader) ------------------------------------------------------------

    def list_incoming(self, limit: int | None = None) -> list[LandedFile]:
        """Deliveries waiting to be loaded, oldest receipt first (at most ``limit``).

        ``incoming/`` is the queue itself: everything in it is unprocessed. Files can appear with
        a receipt time older than one already listed (another process's batch committing later),
        so a consumer should not keep a time cursor; it should take what is there and move it.
        """
        files = self.list_folder(INCOMING)
        return files if limit is None else files[:limit]

    def list_folder(self, folder: str) -> list[LandedFile]:
        files = []
        try:
            entries = os.scandir(self.folder(folder))
        except FileNotFoundError:
            return []
        with entries:
            for entry in entries:
                if not _NAME.match(entry.name):
                    continue
                try:
                    stat = entry.stat()
                except FileNotFoundError:  # moved by another process meanwhile
                    continue
                files.append(
                    LandedFile(stat.st_mtime_ns, entry.name, Path(entry.path), stat.st_size)
                )
        files.sort()
        return files

    def read(self, path: Path | str | LandedFile) -> LandedDelivery:
        return LandedDelivery.model_validate_json(self._path(path).read_bytes())

    def counts(self) -> dict[str, int]:
        """Number of delivery files per folder."""
        result = {}
        for name in FOLDERS:
            try:
                with os.scandir(self.root / name) as entries:
                    result[name] = sum(1 for e in entries if _NAME.match(e.name))
            except FileNotFoundError:
                result[name] = 0
        return result

    def find(self, platform: str, account_id: str, delivery_id: str) -> Path | None:
        """Where a delivery is (incoming, processed or failed), if it was landed."""
        name = delivery_file_name(platform, account_id, delivery_id)
        for folder in (INCOMING, PROCESSED, FAILED):
            candidate = self.root / folder / name
            if candidate.exists():
                return candidate
        return None

    # -- moving (loader) ----------------------------------------------------------------------

    def mark_processed(self, paths: Iterable[Path | str | LandedFile]) -> list[Path]:
        """Move loaded files to ``processed/``. Files already moved are skipped (idempotent)."""
        moved = []
        for path in paths:
            source = self._path(path)
            target = self.processed / source.name
            try:
                os.rename(source, target)
            except FileNotFoundError:
                continue
            moved.append(target)
        if moved:
            _fsync_dir(self.processed)
            _fsync_dir(self.incoming)
        return moved

    def mark_failed(self, path: Path | str | LandedFile, reason: str) -> Path:
        """Move a file to ``failed/`` with ``<name>.reason.txt`` beside it.

        The reason is written (durably) first, so a failed file never lacks its reason.
        """
        source = self._path(path)
        target = self.failed / source.name
        reason_path = self.failed / (source.name.removesuffix(".json") + _REASON_SUFFIX)
        tmp = self._write_tmp(reason.encode(), None)
        os.replace(tmp, reason_path)
        os.rename(source, target)
        _fsync_dir(self.failed)
        _fsync_dir(source.parent)
        return target

    def failure_reason(self, path: Path | str | LandedFile) -> str | None:
        source = self._path(path)
        reason_path = self.failed / (source.name.removesuffix(".json") + _REASON_SUFFIX)
        try:
            return reason_path.read_text()
        except FileNotFoundError:
            return None

    def requeue_failed(self, path: Path | str | LandedFile) -> Path:
        """Move a failed file back to ``incoming/`` (after the cause was fixed)."""
        source = self._path(path)
        target = self.incoming / source.name
        os.rename(source, target)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.failed / (source.name.removesuffix(".json") + _REASON_SUFFIX))
        _fsync_dir(self.incoming)
        _fsync_dir(self.failed)
        return target

    def prune_processed(self, older_than_seconds: float) -> int:
        """Delete processed files received more than ``older_than_seconds`` ago; return how many.

        ``processed/`` is what recognises a redelivery, so keep files longer than any sender
        retries (Eventbrite's retry window is unknown: days, not weeks). A redelivery that comes
        after pruning is landed and loaded again, which the idempotent merge absorbs.
        """
        cutoff = time.time_ns() - int(older_than_seconds * 1e9)
        removed = 0
        for file in self.list_folder(PROCESSED):
            if file.received_ns >= cutoff:
                break  # sorted by receipt: the rest are younger
            with contextlib.suppress(FileNotFoundError):
                os.unlink(file.path)
                removed += 1
        if removed:
            _fsync_dir(self.processed)
        return removed

    def _path(self, path: Path | str | LandedFile) -> Path:
        resolved = path.path if isinstance(path, LandedFile) else Path(path)
        if not _NAME.match(resolved.name):
            raise ValueError(f"{resolved} is not a landed delivery file")
        return resolved

    # -- writing (receiver) -------------------------------------------------------------------

    def _write_tmp(self, data: bytes, mtime_ns: int | None) -> Path:
        """A named, fsync'd temp file in ``.tmp/``."""
        with self._tmp_lock:
            seq = next(self._tmp_seq)
        path = self.root / TMP / f"{self._tmp_prefix}-{seq}.tmp"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o640)
        try:
            _write_all(fd, data, mtime_ns)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
        os.close(fd)
        return path

    def _publish(self, item: PendingFile) -> StoreOutcome:
        """Write ``item`` durably and link it into its folder (the folder is not fsync'd yet)."""
        folder = self._dirs[item.folder]
        target = f"{folder}/{item.name}"
        if _tmpfile_supported:
            # An unnamed file in the target folder (O_TMPFILE), linked once complete: no temp
            # name to create and remove, and nothing left behind if the process dies.
            try:
                fd = os.open(folder, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o640)
            except OSError as error:
                if error.errno not in _NO_TMPFILE:
                    raise
                _tmpfile_unsupported()
            else:
                try:
                    _write_all(fd, item.data, item.received_ns)
                    os.link(
                        f"/proc/self/fd/{fd}", target, src_dir_fd=_root_fd(), follow_symlinks=True
                    )
                except FileExistsError:
                    return StoreOutcome.DUPLICATE
                except OSError as error:
                    if error.errno not in _NO_TMPFILE:
                        raise
                    _tmpfile_unsupported()
                else:
                    return StoreOutcome.STORED
                finally:
                    os.close(fd)
        tmp = self._write_tmp(item.data, item.received_ns)
        try:
            os.link(tmp, target)  # unlike rename, never replaces an existing file
        except FileExistsError:
            return StoreOutcome.DUPLICATE
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return StoreOutcome.STORED

    def _settled(self, name: str) -> bool:
        """Already loaded or failed: a redelivery of it must not be landed again."""
        return os.path.exists(f"{self._dirs[PROCESSED]}/{name}") or os.path.exists(
            f"{self._dirs[FAILED]}/{name}"
        )

    def store_batch(
        self, items: Sequence[PendingFile], pool: Executor | None = None
    ) -> list[StoreOutcome | LandingError]:
        """Make a batch of files durable; one outcome (or error) per item, in order.

        Each file is written, fsync'd and linked into its folder (in parallel on ``pool``), then
        each folder touched is fsync'd once for the whole batch (the group commit). Only after
        that may the caller acknowledge the deliveries. A file that already exists is a
        duplicate: it was stored before (maybe by another process whose folder fsync is still to
        come: ours covers its entry too, so a duplicate is also acknowledged only after it).
        """

        def publish(item: PendingFile) -> StoreOutcome | LandingError:
            try:
                try:
                    return self._publish(item)
                except FileNotFoundError:
                    self.ensure()  # the area was removed under us: recreate it once
                    return self._publish(item)
            except OSError as error:
                return _landing_error(error)

        if pool is not None and len(items) > 1:
            outcomes = list(pool.map(publish, items))
        else:
            outcomes = [publish(item) for item in items]

        linked: dict[str, list[int]] = {}  # folder -> indexes whose outcome needs its fsync
        for index, (item, outcome) in enumerate(zip(items, outcomes, strict=True)):
            if isinstance(outcome, LandingError):
                continue
            if outcome is StoreOutcome.STORED and item.folder == INCOMING and item.skip_if_loaded:
                # Redeliveries are rare, so this is checked after writing rather than before:
                # if it was loaded and moved away already, ours is a duplicate.
                try:
                    if self._settled(item.name):
                        os.unlink(self.root / INCOMING / item.name)
                        outcomes[index] = StoreOutcome.DUPLICATE
                except OSError as error:
                    outcomes[index] = _landing_error(error)
                    continue
            linked.setdefault(item.folder, []).append(index)

        for folder, indexes in linked.items():
            try:
                _fsync_dir(self.root / folder)
            except OSError as error:
                # Not durable: withdraw what we published so a retry lands it again.
                for index in indexes:
                    if outcomes[index] is StoreOutcome.STORED:
                        with contextlib.suppress(OSError):
                            os.unlink(self.root / folder / items[index].name)
                    outcomes[index] = _landing_error(error)
        return outcomes

    def store(self, item: PendingFile) -> StoreOutcome:
        """Store one file durably (no batching); raises ``LandingError``."""
        outcome = self.store_batch([item])[0]
        if isinstance(outcome, LandingError):
            raise outcome
        return outcome


def _write_all(fd: int, data: bytes, mtime_ns: int | None) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    if mtime_ns is not None:
        os.utime(fd, ns=(mtime_ns, mtime_ns))  # the time of receipt: listings sort by it
    os.fsync(fd)


# O_TMPFILE needs Linux >= 3.11, a filesystem that supports it and /proc to link the file.
_NO_TMPFILE = {errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.EXDEV}
_tmpfile_supported = hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd")


def _tmpfile_unsupported() -> None:
    global _tmpfile_supported
    _tmpfile_supported = False


@functools.cache
def _root_fd() -> int:
    # os.link only follows the /proc/self/fd symlink (linkat AT_SYMLINK_FOLLOW) when given a
    # directory fd; the path is absolute, so which directory does not matter.
    return os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def _landing_error(error: OSError) -> LandingError:
    name = errno.errorcode.get(error.errno or 0, "EIO")
    landing_error = LandingError(f"cannot store delivery: {name}: {error.strerror}")
    landing_error.__cause__ = error
    return landing_error


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
