"""The last good config of a running server, so that no worker boots into a bad file.

gunicorn without ``preload_app`` imports the app afresh in every worker it
forks, on start, after ``kill -HUP`` and when it replaces a dead worker. If
the config file is bad by then, that worker would fail to boot and gunicorn
would stop the whole server. So each worker that loads a config file
successfully keeps a copy of it here, tagged with its master process; a
worker that later finds the file bad loads the copy its own master's workers
left instead, and logs why (:class:`websvc.app.WebsvcApp`).

A copy is only used by workers of the master whose workers wrote it: a
fresh ``gunicorn`` start with a bad file still refuses to start, as it should.

Where: ``$WEBSVC_STATE_DIR``, else ``$XDG_RUNTIME_DIR/websvc``, else
``<tmp>/websvc-<uid>``; the folder must belong to this user and be writable
by no one else (it is created with mode 0700), or no copy is kept or read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import sys
import tempfile
from pathlib import Path

STATE_ENV = "WEBSVC_STATE_DIR"

log = logging.getLogger("websvc")


def worker_boot() -> bool:
    """Whether the caller runs while a gunicorn worker loads its app.

    That is the one moment a copy is kept or used: in a worker, whose parent
    is the master. (A ``preload_app`` master loads the app itself and its
    workers inherit it, so it needs no copy.)
    """
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "load_wsgi" and str(
            frame.f_globals.get("__name__", "")
        ).startswith("gunicorn."):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def remember(source: str, text: str) -> None:
    """Keep *text*, the config just loaded from *source*, as this master's last good one."""
    folder = _folder()
    if folder is None:
        return
    path = folder / _name(source)
    record = {"source": _real(source), "master": _master(), "config": text}
    try:
        if _read(path) == record:
            return  # another worker of this master already kept the same text
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".lastgood-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(record, fh)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        log.warning("cannot keep a copy of the last good config in %s: %s", folder, exc)


def recall(source: str) -> tuple[str, str] | None:
    """The last good config text kept by this process's master for *source*, and where.

    None when there is none, when it was kept under another master (a new
    server start), or when the folder or file is not safe to trust.
    """
    folder = _folder()
    if folder is None:
        return None
    path = folder / _name(source)
    record = _read(path)
    if record is None or record.get("source") != _real(source):
        return None
    if record.get("master") != _master() or not isinstance(record.get("config"), str):
        return None
    return str(record["config"]), str(path)


# -- private helpers -------------------------------------------------------

_warned: set[str] = set()


def _folder() -> Path | None:
    configured = os.environ.get(STATE_ENV)
    if configured:
        folder = Path(configured)
    elif os.environ.get("XDG_RUNTIME_DIR"):
        folder = Path(os.environ["XDG_RUNTIME_DIR"]) / "websvc"
    else:
        folder = Path(tempfile.gettempdir()) / f"websvc-{os.geteuid()}"
    try:
        folder.mkdir(mode=0o700, parents=bool(configured), exist_ok=True)
        info = os.lstat(folder)
    except OSError as exc:
        _warn_once(str(folder), f"cannot use {folder} for the last good config: {exc}")
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        _warn_once(
            str(folder),
            f"not keeping the last good config in {folder}: it must be a folder of this "
            "user that no one else can write to",
        )
        return None
    return folder


def _read(path: Path) -> dict[str, object] | None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if info.st_uid != os.geteuid() or info.st_mode & 0o022:
            return None
        try:
            record = json.loads(fh.read())
        except (OSError, ValueError):
            return None
    return record if isinstance(record, dict) else None


def _real(source: str) -> str:
    return os.path.realpath(source)


def _name(source: str) -> str:
    return (
        "lastgood-"
        + hashlib.sha256(_real(source).encode("utf-8", "surrogateescape")).hexdigest()[:20]
        + ".json"
    )


def _master() -> str:
    """This process's parent: its pid and start time (pids are reused)."""
    parent = os.getppid()
    try:
        with open(f"/proc/{parent}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return f"{parent}:{int(fields[19])}"  # field 22, starttime
    except (OSError, IndexError, ValueError):
        return str(parent)


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning("%s", message)
