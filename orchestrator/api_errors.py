"""Errors in OpenAI's wire shape, with the status codes the official SDK maps to its exceptions.

`{"error": {"message", "type", "param", "code"}}`: 400 BadRequestError, 401 AuthenticationError,
403 PermissionDeniedError, 404 NotFoundError, 413 (APIStatusError), 429 RateLimitError,
500 InternalServerError, 502/503 (InternalServerError). Framework-free: the Serve app turns an
ApiError into a JSON response; everything that judges a request raises one.
"""
from __future__ import annotations

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "invalid_request_error", 405: "invalid_request_error", 413: "invalid_request_error",
          422: "invalid_request_error", 429: "rate_limit_error", 500: "api_error",
          502: "api_error", 503: "service_unavailable"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 type_: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.type = type_ or _TYPES.get(status, "api_error")
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def bad_request(message: str, param: str | None = None, code: str = "invalid_value") -> ApiError:
    return ApiError(400, message, param=param, code=code)


def error_body(status: int, message: str, *, code: str | None = None, param: str | None = None) -> dict:
    return ApiError(status, message, code=code, param=param).body()
