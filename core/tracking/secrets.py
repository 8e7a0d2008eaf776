"""Secrets kept out of run records: values of command-line options whose names look secret.

``--api-key X``, ``--token=X`` and ``password=X`` are masked: only names that say secret
(token, key, password, passwd, secret, credential, auth) are masked, and passwords in URLs
(``postgresql://user:pw@host``). The value becomes ``***``; the option stays, so the command
line still says what was passed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["MASK", "looks_secret", "mask_command_line", "mask_url_password"]

MASK = "***"
_SECRET_NAME = re.compile(
    r"(token|api[_-]?key|access[_-]?key|secret|passw(or)?d|pwd|credential|auth(?!or)|private[_-]?key"
    r"|(^|[_-])key$)",
    re.IGNORECASE,
)
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<password>[^@\s]+)(?=@)")


def looks_secret(name: str) -> bool:
    """True for an option or variable name that names a secret (``--api-key``, ``DB_PASSWORD``)."""
    return bool(_SECRET_NAME.search(name.strip().lstrip("-")))


def mask_url_password(text: str) -> str:
    """``scheme://user:***@host``: the password of any URL in ``text`` masked."""
    return _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)


def mask_command_line(argv: Sequence[str]) -> list[str]:
    """``argv`` with the values of secret-looking options masked."""
    out: list[str] = []
    mask_next = False
    for arg in argv:
        text = str(arg)
        if mask_next:
            out.append(MASK)
            mask_next = False
            continue
        name, sep, _value = text.partition("=")
        if sep and looks_secret(name):
            out.append(f"{name}={MASK}")
        elif text.startswith("-") and not sep and looks_secret(text):
            out.append(text)
            mask_next = True
        else:
            out.append(mask_url_password(text))
    return out
