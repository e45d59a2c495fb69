"""The single error type of the backend: an AWS error type plus a message.

The server turns it into Cognito's wire shape (``{"__type", "message"}``, HTTP
400 unless said otherwise), which is what botocore parses into ``ClientError``.
"""

from __future__ import annotations


class CognitoError(Exception):
    def __init__(self, type_: str, message: str, status: int = 400) -> None:
        super().__init__(f"{type_}: {message}")
        self.type = type_
        self.message = message
        self.status = status

    def body(self) -> dict[str, str]:
        return {"__type": self.type, "message": self.message}


def not_found(what: str) -> CognitoError:
    return CognitoError("ResourceNotFoundException", what)


def invalid(message: str) -> CognitoError:
    return CognitoError("InvalidParameterException", message)


def user_not_found() -> CognitoError:
    return CognitoError("UserNotFoundException", "User does not exist.")


def not_authorized(message: str = "Incorrect username or password.") -> CognitoError:
    return CognitoError("NotAuthorizedException", message)
