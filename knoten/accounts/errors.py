"""Typed errors of accounts and providers (mapped to HTTP in knoten/error_rules.py)."""

from __future__ import annotations


class AccountError(Exception):
    code = ""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class AccountNotFound(AccountError):
    pass


class AccountTaken(AccountError):
    code = "username_taken"


class InvalidAccount(AccountError):
    pass


class ProviderNotFound(AccountError):
    pass


class ProviderNameTaken(AccountError):
    code = "provider_name_taken"


class ProviderInUse(AccountError):
    code = "provider_in_use"


class LastStaffAccount(AccountError):
    code = "last_staff_account"
