"""Where the web app finds the services, and how it keeps its cookies."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class WebSettings:
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    identity_url: str = "http://127.0.0.1:8085"
    order_url: str = "http://127.0.0.1:8081"
    store_url: str = "http://127.0.0.1:8082"
    delivery_url: str = "http://127.0.0.1:8083"
    mypage_url: str = "http://127.0.0.1:8084"
    # Signs the session and CSRF cookies. A fresh one per start logs everybody out,
    # which is what the in-process session store does anyway (see sessions.py).
    secret: str = ""
    https: bool = False  # cookies get Secure when the site is served over HTTPS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WebSettings:
        env = os.environ if env is None else env
        offset = int(env.get("SERVICE_PORT_OFFSET", "0"))

        def url(name: str, port: int) -> str:
            return env.get(f"{name}_URL", f"http://127.0.0.1:{port + offset}").rstrip("/")

        return cls(
            http_host=env.get("HTTP_HOST", "127.0.0.1"),
            http_port=int(env.get("HTTP_PORT", "8080")),
            identity_url=url("IDENTITY", 8085),
            order_url=url("ORDER", 8081),
            store_url=url("STORE", 8082),
            delivery_url=url("DELIVERY", 8083),
            mypage_url=url("MYPAGE", 8084),
            secret=env.get("WEB_SECRET") or secrets.token_urlsafe(32),
            https=env.get("WEB_HTTPS", "").lower() in {"1", "true", "yes"},
        )
