"""OAuth 2.0 authorization-code flow with PKCE (RFC 7636), as X and Mastodon use it."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import urlencode


def pkce_pair() -> tuple[str, str]:
    """A fresh code verifier and its S256 code challenge."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorization_url(
    endpoint: str, *, client_id: str, redirect_uri: str, scope: str, state: str
) -> tuple[str, str]:
    """The URL to send the person to, and the PKCE verifier to keep for the code exchange."""
    verifier, challenge = pkce_pair()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    return f"{endpoint}?{query}", verifier
