"""Errors that carry their HTTP status, so one handler turns any of them into a JSON answer.

Client mistakes are 4xx with a message that names what is wrong and where; the server keeps serving.
"""

from __future__ import annotations


class ServerError(Exception):
    """Base of every error the HTTP layer answers with `{"error": message}`."""

    status_code = 500
    # Answered with `connection: close`: the rest of the request is not worth reading.
    closes_connection = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(ServerError):
    """The request body is malformed or does not fit the model's inputs."""

    status_code = 400


class ModelNotFound(ServerError):
    status_code = 404


class RouteNotFound(ServerError):
    status_code = 404


class MethodNotAllowed(ServerError):
    status_code = 405


class RequestTimeout(ServerError):
    status_code = 408
    closes_connection = True


class PayloadTooLarge(ServerError):
    status_code = 413
    closes_connection = True


class ClientGone(ServerError):
    """The client closed the connection before its request was read (nginx's 499)."""

    status_code = 499


class ServerBusy(ServerError):
    status_code = 503
    closes_connection = True


class ModelNotReady(ServerError):
    status_code = 503


class ModelLoadError(Exception):
    """The model cannot be fetched or loaded; the server reports it and exits non-zero."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
