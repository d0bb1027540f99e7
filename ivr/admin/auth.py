"""Who may do what in the admin web and API: roles, scopes, passwords, tokens.

Four roles (the issue's): a national admin changes everything; a department
admin changes their own department and, if granted `include_sub`, the ones
below it; an operator sees their department's cases and changes their own
status and those cases; an auditor reads what their scope covers and changes
nothing. A scope is `national` (the national menu, the whole directory) or a
division code.

Passwords are hashed with argon2id (argon2-cffi, the OWASP recommendation).
Session and API tokens are 32 random bytes; only their sha256 is stored, so a
copy of the database signs no one in.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ivr.directory.routing import Directory
from ivr.errors import DataError, IvrError, NotFound

NATIONAL = "national"
MIN_PASSWORD = 10
MAX_PASSWORD = 200  # argon2 takes any length; a bound keeps a request cheap

_hasher = PasswordHasher()
# Verified when a username is unknown, so that a wrong name costs as much
# time as a wrong password and names cannot be found by timing.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class Role(StrEnum):
    NATIONAL_ADMIN = "national_admin"
    DEPARTMENT_ADMIN = "department_admin"
    OPERATOR = "operator"
    AUDITOR = "auditor"


ROLE_NAMES = {
    Role.NATIONAL_ADMIN: "全国管理员",
    Role.DEPARTMENT_ADMIN: "部门管理员",
    Role.OPERATOR: "话务员",
    Role.AUDITOR: "审计员",
}


class SignInFailed(IvrError):
    error_id = "sign_in_failed"
    status = 401


class NotSignedIn(IvrError):
    error_id = "not_signed_in"
    status = 401


class Forbidden(IvrError):
    error_id = "forbidden"
    status = 403


@dataclass(frozen=True, slots=True)
class Principal:
    """The signed-in user a request acts as."""

    username: str
    name: str
    role: Role
    department: str | None  # None: the whole country
    include_sub: bool

    @property
    def is_national(self) -> bool:
        return self.department is None

    def covers(self, scope: str, directory: Directory) -> bool:
        """Whether `scope` is inside this user's reach (read or write alike)."""
        if self.department is None:
            return True
        if scope == self.department:
            return True
        return self.include_sub and directory.within(scope, self.department)

    def can_change(self, scope: str, directory: Directory) -> bool:
        """Menus, hours, prompts of `scope`: admins of that scope only."""
        if self.role is Role.NATIONAL_ADMIN:
            return True
        return self.role is Role.DEPARTMENT_ADMIN and self.covers(scope, directory)

    def can_handle_cases(self, scope: str, directory: Directory) -> bool:
        """Case work (assign, answer, forward) in `scope`: admins and its operators."""
        if self.role is Role.AUDITOR:
            return False
        return self.can_change(scope, directory) or (
            self.role is Role.OPERATOR and self.covers(scope, directory)
        )

    def covers_any(self, codes: Iterable[str], directory: Directory) -> bool:
        """Whether one of `codes` (an operator's departments, say) is within reach."""
        return any(self.covers(code, directory) for code in codes)

    def reach(self, department: str, directory: Directory) -> list[str]:
        """`department` and the departments below it, as far as this user sees."""
        codes = (department, *directory.below(department))
        return [code for code in codes if self.covers(code, directory)]

    def visible(self, directory: Directory) -> list[str] | None:
        """Codes this user may read, or None for all of them."""
        if self.department is None:
            return None
        if not self.include_sub:
            return [self.department]
        return [self.department, *directory.below(self.department)]


def check_scope(scope: str, directory: Directory) -> str:
    """`scope` if it is NATIONAL or a department of the directory; NotFound otherwise."""
    if scope != NATIONAL and not directory.has(scope):
        raise NotFound(f"no department with code {scope!r}", scope=scope)
    return scope


def validate_role(role: str, department: str | None, directory: Directory) -> Role:
    """A role and department that go together; DataError-like IvrError otherwise."""
    try:
        found = Role(role)
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise DataError(f"no role {role!r}; the roles are {roles}", field="role") from None
    if department is not None and not directory.has(department):
        raise DataError(f"no department with code {department!r}", field="department")
    if found in (Role.DEPARTMENT_ADMIN, Role.OPERATOR) and department is None:
        raise DataError(
            f"a {found.value} belongs to a department; give its code", field="department"
        )
    if found is Role.NATIONAL_ADMIN and department is not None:
        raise DataError("a national admin has no department", field="department")
    return found


def hash_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise DataError(
            f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters", field="password"
        )
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether `password` matches; constant work when there is no such user."""
    if len(password) > MAX_PASSWORD:
        return False
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
