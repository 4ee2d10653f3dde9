"""Everyone's pages: sign up, log in, log out, forgot password, the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from web import i18n
from web.backend import Reply
from web.forms import FormText, PageForm, Text
from web.pages import Api, back_to, refused, render, signed_in, store

router = APIRouter()
HOME = {"customer": "/stores", "owner": "/owner", "rider": "/rider"}


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    me = signed_in(request)
    if me is None:
        return render(request, "home.html")
    return RedirectResponse(HOME.get(me.role, "/login"), status_code=303)


class Credentials(PageForm):
    """What logging in takes, and signing up starts with."""

    email: FormText = ""
    password: FormText = ""


class SignUpForm(Credentials):
    name: FormText = ""
    role: FormText = "customer"
    region: FormText = ""


@router.get("/signup", response_class=HTMLResponse)
async def signup_form(request: Request) -> Response:
    return render(request, "signup.html", form={})


@router.post("/signup", response_class=HTMLResponse)
async def signup(request: Request, api: Api, form: Annotated[SignUpForm, Form()]) -> Response:
    body = form.model_dump(exclude={"region"})
    if form.region.strip():
        body["region"] = form.region.strip()
    reply = await api.sign_up(body)
    if not reply.ok:
        shown = form.model_dump(exclude={"password"})  # a refused form comes back filled in
        return render(request, "signup.html", 400, form=shown, messages=[("error", refused(reply))])
    return await _sign_in(request, api, form, form_page="login.html")


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    return render(request, "login.html", form={})


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, api: Api, form: Annotated[Credentials, Form()]) -> Response:
    return await _sign_in(request, api, form, form_page="login.html")


async def _sign_in(
    request: Request, api: Api, credentials: Credentials, *, form_page: str
) -> Response:
    found = await api.log_in(credentials.email, credentials.password)
    if isinstance(found, Reply):
        message = (
            i18n.gettext_("Wrong email or password.") if found.status == 400 else refused(found)
        )
        shown = {"email": credentials.email}
        return render(request, form_page, 400, form=shown, messages=[("error", message)])
    sessions = store(request)
    sessions.remove(request.session.get("sid"))
    request.session["sid"] = sessions.add(found)
    return RedirectResponse(HOME.get(found.role, "/"), status_code=303)


@router.post("/logout")
async def logout(request: Request, api: Api) -> Response:
    session = store(request).remove(request.session.pop("sid", None))
    if session is not None:
        await api.log_out(session)  # the refresh token is revoked at the issuer
    return RedirectResponse("/login", status_code=303)


@router.get("/forgot", response_class=HTMLResponse)
async def forgot_form(request: Request) -> Response:
    return render(request, "forgot.html")


@router.post("/forgot", response_class=HTMLResponse)
async def forgot(request: Request, api: Api, email: Text = "") -> Response:
    reply = await api.request_reset(email)
    message = (
        ("ok", i18n.gettext_("If the account exists, a reset message is on its way."))
        if reply.ok
        else ("error", refused(reply))
    )
    return render(request, "forgot.html", 200 if reply.ok else 400, messages=[message])


@router.post("/reset", response_class=HTMLResponse)
async def reset(request: Request, api: Api, token: Text = "", new_password: Text = "") -> Response:
    reply = await api.confirm_reset(token, new_password)
    if reply.ok:
        message = ("ok", i18n.gettext_("Your password is changed; log in with it."))
        return render(request, "login.html", form={}, messages=[message])
    return render(request, "forgot.html", 400, messages=[("error", refused(reply))])


@router.get("/lang/{language}")
async def switch_language(language: str, next: str = "/") -> Response:
    response = back_to(next)
    if language in i18n.LANGUAGES:
        response.set_cookie("lang", language, max_age=365 * 86400, samesite="lax", httponly=True)
    return response
