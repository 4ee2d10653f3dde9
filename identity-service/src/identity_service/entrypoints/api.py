"""HTTP edge of the identity context: sign-up, the OAuth2 token endpoint (password
and refresh grants, form-encoded), logout, password reset, and the issuer's
discovery document and public keys."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import BackgroundTasks, FastAPI, Form, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from identity_service.bootstrap import Container, bootstrap
from identity_service.domain import commands
from identity_service.domain.model import Role
from identity_service.domain.throttle import TooManyAttempts
from identity_service.domain.tokens import InvalidGrant
from identity_service.service_layer.handlers import ResetNotice, TokenResponse, send_reset_notice
from service_kit.http import serve, service_app
from service_kit.limits import FORM, JSON

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Region = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
NewPassword = Annotated[str, Field(min_length=8, max_length=128)]
Secret = Annotated[str, Field(min_length=1, max_length=512)]
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 5.1


class SignUpBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: EmailStr
    password: NewPassword
    role: Role
    name: Name
    region: Annotated[Region | None, Field(description="Required for riders")] = None


class AccountCreated(BaseModel):
    account_id: str


class TokenBody(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    refresh_token: str


class OAuthError(BaseModel):
    error: str
    error_description: str | None = None


class RefreshTokenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: Secret


class ResetRequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: EmailStr


class ResetRequested(BaseModel):
    detail: str


class ResetConfirmBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: Secret
    new_password: NewPassword


class OpenIdConfiguration(BaseModel):
    issuer: str
    token_endpoint: str
    jwks_uri: str
    grant_types_supported: list[str]
    response_types_supported: list[str]
    subject_types_supported: list[str]
    id_token_signing_alg_values_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    claims_supported: list[str]


class Jwks(BaseModel):
    keys: list[dict[str, str]]


def oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"error": error, "error_description": description},
        headers=NO_STORE,
    )


def create_app(container: Container | None = None) -> FastAPI:
    container = container or bootstrap()
    bus, auth, key = container.bus, container.auth, container.signing_key

    app = service_app(
        container.platform,
        summary="Identity and access: accounts, OAuth2 tokens, the issuer's keys",
        media_types=(JSON, FORM),  # the token endpoint is form-encoded (OAuth2)
    )
    # Each service's /docs "Authorize" posts to the token endpoint from its own origin.
    app.add_middleware(
        CORSMiddleware,
        allow_origin_regex=container.cors_origin_regex,
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type"],
    )

    @app.post("/auth/accounts", status_code=201, tags=["accounts"])
    async def sign_up(body: SignUpBody) -> AccountCreated:
        account = await bus.handle(
            commands.SignUp(body.email, body.password, body.role, body.name, body.region)
        )
        return AccountCreated(account_id=account.account_id)

    @app.post(
        "/auth/token",
        tags=["tokens"],
        response_model=TokenBody,
        responses={
            400: {"model": OAuthError, "description": "invalid_grant, invalid_request, ..."},
            429: {"description": "Too many failed logins; see Retry-After"},
        },
    )
    async def token(
        request: Request,
        response: Response,
        grant_type: Annotated[str, Form(max_length=32)] = "",
        username: Annotated[str, Form(max_length=254)] = "",
        password: Annotated[str, Form(max_length=1024)] = "",
        refresh_token: Annotated[str, Form(max_length=512)] = "",
        scope: Annotated[str, Form(max_length=512)] = "",
    ) -> TokenBody | JSONResponse:
        """OAuth2 token endpoint (RFC 6749): `grant_type=password` with `username`
        (the email) and `password`, or `grant_type=refresh_token` with `refresh_token`."""
        if grant_type == "password":
            if not username or not password:
                return oauth_error("invalid_request", "username and password are required")
            client = request.client.host if request.client else "unknown"
            command: Any = commands.PasswordGrant(username, password, client)
        elif grant_type == "refresh_token":
            if not refresh_token:
                return oauth_error("invalid_request", "refresh_token is required")
            command = commands.RefreshGrant(refresh_token)
        else:
            return oauth_error("unsupported_grant_type", "use password or refresh_token")
        try:
            tokens: TokenResponse = await bus.handle(command)
        except InvalidGrant as exc:
            return oauth_error("invalid_grant", str(exc))
        except TooManyAttempts as exc:
            return JSONResponse(
                status_code=429,
                content={"detail": str(exc)},
                headers={"Retry-After": str(exc.retry_after_s), **NO_STORE},
            )
        response.headers.update(NO_STORE)
        return TokenBody(
            access_token=tokens.access_token,
            token_type=tokens.token_type,
            expires_in=tokens.expires_in,
            refresh_token=tokens.refresh_token,
        )

    @app.post("/auth/logout", status_code=204, tags=["tokens"])
    async def logout(body: RefreshTokenBody) -> None:
        await bus.handle(commands.Logout(body.refresh_token))

    @app.post("/auth/password-reset", status_code=202, tags=["accounts"])
    async def request_reset(body: ResetRequestBody, background: BackgroundTasks) -> ResetRequested:
        """Always 202: the answer never tells whether the account exists. The notice
        goes out after the answer, so neither its time nor its failure shows."""
        notice: ResetNotice | None = await bus.handle(commands.RequestPasswordReset(body.email))
        if notice is not None:
            background.add_task(send_reset_notice, notice, container.notifier)
        return ResetRequested(detail="if the account exists, a reset message is on its way")

    @app.post("/auth/password-reset/confirm", status_code=204, tags=["accounts"])
    async def confirm_reset(body: ResetConfirmBody) -> None:
        await bus.handle(commands.ConfirmPasswordReset(body.token, body.new_password))

    @app.get("/.well-known/openid-configuration", tags=["discovery"])
    async def openid_configuration() -> OpenIdConfiguration:
        return OpenIdConfiguration(
            issuer=auth.issuer,
            token_endpoint=f"{auth.issuer}/auth/token",
            jwks_uri=f"{auth.issuer}/.well-known/jwks.json",
            grant_types_supported=["password", "refresh_token"],
            response_types_supported=["token"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["ES256"],
            token_endpoint_auth_methods_supported=["none"],
            claims_supported=["iss", "aud", "sub", "role", "region", "exp", "iat", "jti"],
        )

    @app.get("/.well-known/jwks.json", tags=["discovery"])
    async def jwks(response: Response) -> Jwks:
        response.headers["Cache-Control"] = "public, max-age=300"
        return Jwks.model_validate(key.jwks())

    return app


def main() -> None:
    serve(bootstrap(), create_app)


if __name__ == "__main__":
    main()
