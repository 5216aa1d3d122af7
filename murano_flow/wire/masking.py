"""Masking of secret values in every text murano-flow prints, stores or logs."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

#: What a secret looks like once masked.
MASK = "******"


class Masker:
    """Replaces every occurrence of known secret strings with :data:`MASK`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._pattern: re.Pattern[str] | None = None
        self._secrets: set[str] = set()
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        """Register more secret values (empty strings are ignored)."""
        self._secrets.update(s for s in secrets if s)
        if self._secrets:
            # Longest first, so a secret that contains another is masked whole.
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def text(self, value: str) -> str:
        """``value`` with every secret masked."""
        return self._pattern.sub(MASK, value) if self._pattern and value else value

    def data(self, value: Any) -> Any:
        """A copy of JSON-like ``value`` with every secret inside strings masked (``value``
        itself when there are no secrets)."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value


def masked_url(url: str) -> str:
    """``url`` (a broker's, a database's) with its password masked, for messages."""
    password = urlsplit(url).password
    return url.replace(f":{password}@", f":{MASK}@", 1) if password else url
