"""Read the API server's request counters on demand, from inside its network namespace.

    python apimetrics.py KUBECONFIG

For every line on stdin it reads /metrics over one keep-alive connection and prints one JSON
line: a list of [verb, resource, subresource, code, count] for `apiserver_request_total`
(summed over the other labels). A read takes tens of milliseconds, against most of a second
for a `kubectl get --raw /metrics` process, so the benchmark can poll the counters until
they stop moving without loading the machine it measures.
"""
from __future__ import annotations

import json
import re
import sys
from collections import Counter

from kubeclient import connect

SAMPLE = re.compile(r"^apiserver_request_total\{(.*)\} (\S+)$", re.M)
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def counters(text: str) -> Counter:
    out: Counter = Counter()
    for labels, value in SAMPLE.findall(text):
        lab = dict(LABEL.findall(labels))
        out[(lab.get("verb", ""), lab.get("resource", ""), lab.get("subresource", ""), lab.get("code", ""))] += \
            int(float(value))
    return out


def main(kubeconfig: str) -> int:
    conn = connect(kubeconfig, timeout=60)
    for _ in sys.stdin:
        for attempt in (1, 2):   # a keep-alive connection the server closed: reconnect once
            try:
                conn.request("GET", "/metrics")
                resp = conn.getresponse()
                text = resp.read().decode()
                break
            except (ConnectionError, OSError):
                conn.close()
                if attempt == 2:
                    raise
        if resp.status != 200:
            print(json.dumps({"error": text[:2000]}), flush=True)
            continue
        print(json.dumps([[*k, v] for k, v in counters(text).items()]), flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
