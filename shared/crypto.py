"""Secrets at rest (network tokens, app passwords): Fernet from `cryptography`.

`TAMTAM_SECRET_KEYS` holds one or more Fernet keys, comma-separated. The first encrypts;
every key decrypts (MultiFernet), so a key is rotated by putting a new one first, running
`tamtam secrets rotate` (re-encrypts every row with the new key), then removing the old one.
Without the variable, a development key is created in var/secret.key.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from shared.config import ROOT, Settings

log = logging.getLogger(__name__)
DEV_KEY_FILE = ROOT / "var" / "secret.key"


class SecretBox:
    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        if settings.secret_keys is not None:
            keys = [k.strip().encode() for k in settings.secret_keys.get_secret_value().split(",")]
            return cls([k for k in keys if k])
        return cls([_development_key(DEV_KEY_FILE)])

    def seal(self, secret: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(json.dumps(secret).encode())

    def open(self, token: bytes) -> dict[str, Any]:
        try:
            return json.loads(self._fernet.decrypt(token))  # type: ignore[no-any-return]
        except InvalidToken as error:
            raise ValueError("credentials cannot be decrypted with the configured keys") from error

    def rotate(self, token: bytes) -> bytes:
        return self._fernet.rotate(token)


def _development_key(path: Path) -> bytes:
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    path.write_bytes(key)
    path.chmod(0o600)
    log.warning("TAMTAM_SECRET_KEYS is not set: created a development key in %s", path)
    return key
