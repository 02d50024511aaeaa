"""An HTTPS connection to the API server, from a kubeconfig (client certificate, CA file).

Used by the helpers that run inside the control plane's network namespace (podwatch.py,
apimetrics.py): standard library and PyYAML only, one keep-alive connection each.
"""
from __future__ import annotations

import http.client
import ssl
from urllib.parse import urlparse

import yaml


def connect(kubeconfig: str, timeout: float = 600) -> http.client.HTTPSConnection:
    with open(kubeconfig) as f:
        cfg = yaml.safe_load(f)
    ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == cfg["current-context"])
    cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
    user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
    tls = ssl.create_default_context(cafile=cluster["certificate-authority"])
    tls.load_cert_chain(user["client-certificate"], user["client-key"])
    url = urlparse(cluster["server"])
    return http.client.HTTPSConnection(url.hostname, url.port, context=tls, timeout=timeout)
