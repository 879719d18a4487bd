"""HTTP sessions to a team's Prometheus and Alertmanager, as its target file says: credentials from the
environment or files, extra headers, TLS with the team's CA, a client certificate and a server name."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from gameday.core.errors import ConfigError
from gameday.team.model import Endpoint, Secret


def read_secret(secret: Secret, shown: str, field: str) -> str:
    """The secret's value, from its variable or the first line of its file; one line naming the field when it is
    not there. Never logged or written anywhere."""
    if secret.env is not None:
        value = os.environ.get(secret.env, "").strip()
        if not value:
            raise ConfigError(shown, field, f"${secret.env} is not set (or is empty)")
        return value
    assert secret.file is not None
    try:
        lines = Path(secret.file).read_text().splitlines()
    except OSError as exc:
        raise ConfigError(shown, field, f"{secret.file}: {exc.strerror or type(exc).__name__}") from None
    value = lines[0].strip() if lines else ""
    if not value:
        raise ConfigError(shown, field, f"{secret.file} is empty")
    return value


class _NamedServer(HTTPAdapter):
    """Verify the server's certificate for ``server_name`` (and send it as SNI), whatever address the URL has."""

    def __init__(self, server_name: str) -> None:
        self.server_name = server_name
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["server_hostname"] = self.server_name
        kwargs["assert_hostname"] = self.server_name
        super().init_poolmanager(*args, **kwargs)


def _readable(path: str, shown: str, field: str) -> str:
    if not os.access(path, os.R_OK):
        raise ConfigError(shown, field, f"{path}: not a readable file")
    return path


def session_for(endpoint: Endpoint, shown: str, field: str) -> requests.Session:
    """A session that reaches ``endpoint`` as the target file says (``field``: where in the file, for errors)."""
    s = requests.Session()
    s.trust_env = False  # never through a proxy from the environment: the file says where the stack is
    s.headers.update(endpoint.headers)
    if endpoint.auth is not None:
        if endpoint.auth.basic is not None:
            basic = endpoint.auth.basic
            s.auth = (basic.username, read_secret(basic.password, shown, f"{field}.auth.basic.password"))
        elif endpoint.auth.bearer is not None:
            token = read_secret(endpoint.auth.bearer, shown, f"{field}.auth.bearer")
            s.headers["Authorization"] = f"Bearer {token}"
    tls = endpoint.tls
    if tls is not None:
        if tls.insecure_skip_verify:
            s.verify = False
        elif tls.ca_file is not None:
            s.verify = _readable(tls.ca_file, shown, f"{field}.tls.ca_file")
        if tls.cert_file is not None and tls.key_file is not None:
            s.cert = (_readable(tls.cert_file, shown, f"{field}.tls.cert_file"),
                      _readable(tls.key_file, shown, f"{field}.tls.key_file"))
        if tls.server_name is not None and not tls.insecure_skip_verify:
            s.mount("https://", _NamedServer(tls.server_name))
    return s
