"""The node's settings, checked before anything starts: AE titles, the allow-list, the bind address, limits.

A setting that fails open is worse than one that fails: an allow-list that parses to
nothing would let anyone in, so it is an error; an AE title DICOM cannot carry would be
refused by pynetdicom only after the scorer had started. Every check here raises
``ValueError`` with the reason, which the CLI turns into exit 2 before it listens.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

#: Where the node listens unless told otherwise: this machine only. A DICOM node that
#: accepts images and returns patient data should be reachable from the network only when
#: someone decided so (``--host 0.0.0.0`` or one interface's address), behind ``--allow-ae``.
DEFAULT_HOST = "127.0.0.1"


def ae_title(text: str, what: str = "an AE title") -> str:
    """``text`` as a valid AE title (1-16 characters of printable ASCII, no backslash, not only spaces).

    Raises:
        ValueError: With the reason.
    """
    value = str(text).strip()
    if not value:
        raise ValueError(f"{what} {text!r}: empty (an AE title has 1 to 16 characters)")
    if len(value) > 16:
        raise ValueError(f"{what} {text!r}: an AE title has at most 16 characters")
    if any(not (0x20 <= ord(c) < 0x7F) or c == "\\" for c in value):
        raise ValueError(f"{what} {text!r}: an AE title holds printable ASCII characters only, without a backslash")
    return value


def allow_list(text: str) -> list[str]:
    """``--allow-ae A,B,...`` as a list of valid AE titles; never empty (an empty list would let anyone in).

    Raises:
        ValueError: An entry is not a valid AE title, or the list names none.
    """
    titles = [ae_title(part, "--allow-ae entry") for part in str(text).split(",") if part.strip()]
    if not titles:
        raise ValueError(f"--allow-ae {text!r}: names no AE title (leave --allow-ae out to accept any caller)")
    return titles


def host(text: str) -> str:
    """A bind address: an IP address of this machine's, or a name that resolves to one.

    Raises:
        ValueError: It is neither.
    """
    value = str(text).strip()
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    try:
        socket.getaddrinfo(value, None)
    except (OSError, UnicodeError):
        raise ValueError(f"--host {text!r}: not an IP address or a name this machine resolves") from None
    return value


def web_url(text: str) -> str:
    """A DICOMweb service's root URL (``http(s)://host[:port]/path``).

    Raises:
        ValueError: It is not one.
    """
    from urllib.parse import urlparse

    u = urlparse(str(text).strip())
    if u.scheme not in ("http", "https") or not u.netloc:
        raise ValueError(f"--dest-web {text!r}: a DICOMweb service's URL, e.g. http://pacs.local:8042/dicom-web")
    return str(text).strip().rstrip("/")


@dataclass
class Destination:
    """Where results go: ``HOST:PORT:AE``."""

    host: str
    port: int
    ae_title: str

    @classmethod
    def parse(cls, text: str) -> Destination:
        """``HOST:PORT:AE`` -> Destination (ValueError with the reason otherwise)."""
        parts = text.rsplit(":", 2)
        if len(parts) != 3 or not parts[0] or not parts[2] or not parts[1].isdigit() or not 0 < int(parts[1]) < 65536:
            raise ValueError(f"{text!r}: a destination is HOST:PORT:AE (e.g. pacs.local:104:PACS)")
        return cls(parts[0], int(parts[1]), ae_title(parts[2], "--dest's AE title"))


@dataclass
class Limits:
    """What one caller, one association and one film may take (``serve``'s limit options).

    Attributes:
        max_associations: Associations open at once, all callers together.
        per_caller: Associations open at once from one caller (its address and AE title).
        lifetime_s: The longest an association may stay open.
        idle_s: The longest an association may stay open without a C-STORE (an echo does not count).
        max_film_bytes: The largest film accepted (larger ones are refused 0xA700; far larger
            ones end the association while they are still arriving).
        reserve_bytes: Free space kept on ``--out`` beyond what the queued films' results will take.
    """

    max_associations: int = 16
    per_caller: int = 4
    lifetime_s: float = 3600.0
    idle_s: float = 60.0
    max_film_bytes: int = 128 * 2**20
    reserve_bytes: int = 64 * 2**20

    def __post_init__(self) -> None:
        if self.max_associations < 1 or self.per_caller < 1:
            raise ValueError("--max-associations and --max-per-caller are at least 1")
        if self.lifetime_s <= 0 or self.idle_s <= 0:
            raise ValueError("--association-lifetime and --idle-timeout are positive")
        if self.max_film_bytes <= 0 or self.reserve_bytes < 0:
            raise ValueError("--max-film-mb is positive and --disk-reserve-mb not negative")
