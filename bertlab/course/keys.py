"""Course keys: which models and which hidden cases each student gets, from the instructor's secret.

Book page: "Instructor guide". The instructor makes one secret per course (`new_secret`, kept in a
file only the grading account reads). Everything per student is an HMAC-SHA256 of that secret:

* the **student key** (`student_key`), handed to the student (a JupyterHub sets it as the
  environment variable ``BERTLAB_COURSE_KEY``). It picks the student's models and their letters
  from the course pool; it says nothing about which recipe trained a model. A checksum at its end
  catches typing mistakes.
* the **case seed** (`case_seed`), per student and assignment: it picks the texts and numbers of
  the hidden cases. Only the grader computes it, while grading.

Without a secret everyone works with the public `PRACTICE_KEY` and practice cases: right for
self-study (and the test suite), worthless for grades, since anyone can compute them.

>>> secret = b"0123456789abcdef0123456789abcdef"
>>> key = student_key(secret, "ada")
>>> key == student_key(secret, "ada") != student_key(secret, "grace"), check_key(key) == key
(True, True)
>>> check_key(key[:-1] + ("x" if key[-1] != "x" else "y"))
Traceback (most recent call last):
...
bertlab.errors.InputError: ...
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError

__all__ = ["PRACTICE_KEY", "KEY_ENV", "SECRET_ENV", "new_secret", "read_secret", "student_key",
           "check_key", "current_key", "case_seed", "digest", "environment"]

#: The key of practice mode: public models and cases, for self-study and the test suite.
PRACTICE_KEY = "practice"
#: Where a student's notebook finds its key (set by the hub, or by ``%env`` in Colab).
KEY_ENV = "BERTLAB_COURSE_KEY"
#: Where the grader finds the file holding the instructor's secret (the grading account only).
SECRET_ENV = "BERTLAB_COURSE_SECRET_FILE"
#: A secret shorter than this many bytes could be guessed by trying.
_MIN_SECRET_BYTES = 16
_KEY_PREFIX = "bk-"


def new_secret() -> str:
    """A fresh random course secret (43 URL-safe characters, 256 bits), to save in a file."""
    return secrets.token_urlsafe(32)


def read_secret(path: str | os.PathLike) -> bytes:
    """The secret in the file `path` (surrounding whitespace ignored)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"No course secret file at {path}. Make one with "
                         f"`python -m bertlab.course secret {path}`.")
    secret = path.read_bytes().strip()
    if len(secret) < _MIN_SECRET_BYTES:
        raise InputError(f"The course secret in {path} has {len(secret)} bytes; use at least "
                         f"{_MIN_SECRET_BYTES} (`python -m bertlab.course secret` writes 43).")
    return secret


def student_key(secret: bytes, student_id: str) -> str:
    """The key of one student (their nbgrader student id): ``bk-`` + 16 letters + a 4-letter checksum."""
    if not isinstance(student_id, str) or not student_id:
        raise InputError(f"student_id must be the student's nbgrader id, got {student_id!r}.")
    body = _base32(hmac.digest(secret, f"student-key/{student_id}".encode(), "sha256"))[:16]
    return f"{_KEY_PREFIX}{body}{_checksum(body)}"


def check_key(key: str) -> str:
    """`key`, stripped, if it is the practice key or a well-formed student key; else a clear error."""
    if not isinstance(key, str):
        raise InputError(f"A course key is a string, got {type(key).__name__}.")
    key = key.strip()
    if key == PRACTICE_KEY:
        return key
    body = key[len(_KEY_PREFIX):-4]
    if not key.startswith(_KEY_PREFIX) or len(body) != 16 or key[-4:] != _checksum(body):
        raise InputError(f"{key!r} is not a course key: a key looks like 'bk-' followed by 20 "
                         "letters and digits. Copy it again from your instructor's message (or "
                         f"unset {KEY_ENV} to practise with the public models).")
    return key


def current_key() -> str:
    """The key this notebook works with: ``$BERTLAB_COURSE_KEY``, else the practice key."""
    return check_key(os.environ.get(KEY_ENV) or PRACTICE_KEY)


def case_seed(secret: bytes | None, student_id: str, assignment: str) -> int:
    """The seed of one student's hidden cases in one assignment (a fixed public seed without a
    secret: practice grading)."""
    message = f"cases/{assignment}/{student_id if secret else PRACTICE_KEY}".encode()
    code = hmac.digest(secret, message, "sha256") if secret else hashlib.sha256(message).digest()
    return int.from_bytes(code[:8], "big")


def digest(key: str, purpose: str) -> int:
    """A 64-bit number from a student key for one purpose (``"models"``, ``"texts"`` ...): what
    the notebook and the grader both use to choose per-student material from a key."""
    return int.from_bytes(hashlib.sha256(f"{purpose}/{key}".encode()).digest()[:8], "big")


def _base32(raw: bytes) -> str:
    return base64.b32encode(raw).decode().lower().rstrip("=")


def _checksum(body: str) -> str:
    return _base32(hashlib.sha256(body.encode()).digest())[:4]


@contextlib.contextmanager
def environment(values: dict[str, str | None]) -> Iterator[None]:
    """Set (or, for None, remove) environment variables for a block, then restore them."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        _set(values)
        yield
    finally:
        _set(saved)


def _set(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
