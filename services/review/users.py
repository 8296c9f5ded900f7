"""People who sign in to the web pages: email, scrypt password hash, role and UI language.

The table is `users` (services.review.models.User); this module is its only writer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.review.models import User

ROLES = ("admin", "editor", "approver", "viewer")
LANGUAGES = ("fr", "en")
# scrypt cost: 16 MiB of memory and ~50 ms per check, the usual interactive-login setting.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD = 8


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                            dklen=32)
    salt_text, digest_text = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt_text}${digest_text}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r),
                                p=int(p), dklen=len(expected))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


# Checked when the email is unknown, so a wrong email takes as long as a wrong password.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def create_user(session: Session, agency_id: str, email: str, password: str, role: str = "editor",
                language: str = "fr") -> User:
    email = email.strip().lower()
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; languages: {', '.join(LANGUAGES)}")
    if "@" not in email:
        raise ValueError(f"{email!r} is not an email address")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password needs at least {MIN_PASSWORD} characters")
    if find_by_email(session, email) is not None:
        raise ValueError(f"a user with the email {email} exists already")
    user = User(agency_id=agency_id, email=email, password_hash=hash_password(password),
                role=role, language=language)
    session.add(user)
    session.flush()
    return user


def find_by_email(session: Session, email: str) -> User | None:
    wanted = email.strip().lower()
    return session.scalars(select(User).where(func.lower(User.email) == wanted)).first()


def authenticate(session: Session, email: str, password: str) -> User | None:
    user = find_by_email(session, email)
    if user is None or user.disabled_at is not None:
        verify_password(password, _DUMMY_HASH)
        return None
    return user if verify_password(password, user.password_hash) else None


def set_language(user: User, language: str) -> None:
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}")
    user.language = language
