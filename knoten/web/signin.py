"""Sign-in and sign-out with user name and password, and the one-time set-up of a fresh install.

Sign-in is rate-limited per account name and per client address (see
:mod:`knoten.accounts.throttle`); the answer never says whether the name exists. The set-up page
exists only while no account does, and only with the code ``knoten serve`` printed.
"""

from __future__ import annotations

import logging

from aiohttp import web

from knoten.accounts.errors import AccountError
from knoten.accounts.principal import Role
from knoten.accounts.store import check_new_account, normalize_username
from knoten.keys import ACCOUNTS, SESSIONS, SETUP_CODE, SIGNIN_THROTTLE
from knoten.web.dashboard import _safe_next, _secure_headers
from knoten.web.i18n import TEXTS, choose_language
from knoten.web.pages import render
from knoten.web.session import CSRF_FIELD

log = logging.getLogger(__name__)


def _client_address(request: web.Request) -> str:
    # The peer address (no X-Forwarded-For: a client could invent one to escape the limit).
    return request.remote or "unknown"


async def _signin_page(
    request: web.Request, *, status: int = 200, error: str | None = None, **context: object
) -> web.Response:
    has_accounts = await request.app[ACCOUNTS].count() > 0
    response = await render(
        request,
        "dashboard/signin.html",
        next=_safe_next(str(context.pop("next", None) or request.query.get("next") or "") or None),
        signed_out=context.pop("signed_out", False),
        error=error,
        has_accounts=has_accounts,
        **context,
    )
    response.set_status(status)
    return _secure_headers(response)


async def signin_form(request: web.Request) -> web.Response:
    if await request.app[SESSIONS].get(request) is not None:
        raise web.HTTPSeeOther(location=_safe_next(request.query.get("next")))
    return await _signin_page(request, signed_out="signed_out" in request.query)


async def signin(request: web.Request) -> web.Response:
    app = request.app
    sessions = app[SESSIONS]
    if not sessions.same_origin(request):
        raise web.HTTPForbidden(text="cross-site sign-in refused")
    form = await request.post()
    username = str(form.get("username", ""))[:64]
    password = str(form.get("password", ""))[:200]
    next_url = _safe_next(str(form.get("next", "")))
    texts = TEXTS[choose_language(request)]
    throttle = app[SIGNIN_THROTTLE]
    keys = (f"account:{normalize_username(username)}", f"address:{_client_address(request)}")
    wait = throttle.wait_seconds(*keys)
    if wait:
        log.warning("sign-in refused for %d s after repeated failures", wait)
        response = await _signin_page(
            request,
            status=429,
            error=texts["signin_throttled"].format(seconds=wait),
            next=next_url,
            username=username,
        )
        response.headers["Retry-After"] = str(wait)
        return response
    account = await app[ACCOUNTS].authenticate(username, password) if username else None
    if account is None:
        throttle.failed(*keys)
        log.info("sign-in failed")
        return await _signin_page(
            request, status=401, error=texts["signin_wrong"], next=next_url, username=username
        )
    throttle.succeeded(*keys)
    session_id = await sessions.create(account.id)
    log.info("account %s signed in", account.username)
    response = web.HTTPSeeOther(location=next_url)
    sessions.set_cookie(request, response, session_id)
    raise response


async def signout(request: web.Request) -> web.Response:
    sessions = request.app[SESSIONS]
    session = await sessions.get(request)
    form = await request.post()
    if session is not None:
        if not sessions.check_csrf(request, session, str(form.get(CSRF_FIELD, ""))):
            raise web.HTTPForbidden(text="CSRF check failed: sign-out refused")
        await sessions.end(request)
    elif not sessions.same_origin(request):
        raise web.HTTPForbidden(text="cross-site request refused")
    response = web.HTTPSeeOther(location="/signin?signed_out=1")
    sessions.clear_cookie(request, response)
    raise response


# -- first set-up ---------------------------------------------------------------------------


async def _setup_page(
    request: web.Request, *, status: int = 200, **context: object
) -> web.Response:
    context.setdefault("invalid", False)
    context.setdefault("error", None)
    response = await render(request, "dashboard/setup.html", **context)
    response.set_status(status)
    response.headers["Referrer-Policy"] = "no-referrer"  # the code is in the address
    return _secure_headers(response)


async def _setup_open(request: web.Request, code: str) -> bool:
    return request.app[SETUP_CODE].matches(code) and await request.app[ACCOUNTS].count() == 0


async def setup_form(request: web.Request) -> web.Response:
    code = request.query.get("code", "")[:100]
    if not await _setup_open(request, code):
        return await _setup_page(request, status=403, invalid=True)
    return await _setup_page(request, code=code)


async def setup(request: web.Request) -> web.Response:
    app = request.app
    sessions = app[SESSIONS]
    if not sessions.same_origin(request):
        raise web.HTTPForbidden(text="cross-site request refused")
    form = await request.post()
    code = str(form.get("code", ""))[:100]
    if not await _setup_open(request, code):
        log.warning("set-up refused: wrong or used code")
        return await _setup_page(request, status=403, invalid=True)
    texts = TEXTS[choose_language(request)]
    username = str(form.get("username", ""))[:64]
    display_name = str(form.get("display_name", ""))[:120]
    password = str(form.get("password", ""))[:200]
    again = dict(code=code, username=username, display_name=display_name)
    if password != str(form.get("password2", "")):
        return await _setup_page(
            request, status=422, error=texts["setup_passwords_differ"], **again
        )
    try:
        check_new_account(normalize_username(username), password, Role.STAFF, None)
    except AccountError as exc:
        return await _setup_page(request, status=422, error=exc.message, **again)
    # Taken before the first await that could let a second request in: the code works once.
    if not app[SETUP_CODE].consume(code):
        return await _setup_page(request, status=403, invalid=True)
    account = await app[ACCOUNTS].create(username, password, Role.STAFF, display_name=display_name)
    log.info("first staff account %s created on the set-up page", account.username)
    session_id = await sessions.create(account.id)
    response = web.HTTPSeeOther(location="/dashboard")
    sessions.set_cookie(request, response, session_id)
    raise response


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/signin", signin_form, name="signin")
    router.add_post("/signin", signin)
    router.add_post("/signout", signout, name="signout")
    router.add_get("/setup", setup_form, name="setup")
    router.add_post("/setup", setup)
