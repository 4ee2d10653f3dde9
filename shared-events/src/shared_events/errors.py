"""Errors of the event contract."""


class ContractError(ValueError):
    """A message that does not honour the published contract: never retried."""


class UnknownEventType(ContractError):
    pass


class InvalidEvent(ContractError):
    pass
