"""The default reset notifier: there is no mail gateway yet, so it only records that
a reset token was issued, for which account. Never the email, never the token."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class LogNotifier:
    async def send_password_reset(self, account_id: str, email: str, token: str) -> None:
        log.info("password reset token issued for account %s", account_id)
