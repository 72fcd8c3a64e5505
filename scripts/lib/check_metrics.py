"""Reads GET /metrics of running services with the Prometheus project's own text parser
(prometheus_client, pinned in scripts/requirements-ci.txt) and checks what docs/API.md says of
it: the content type, the families of each service with their types, histograms whose buckets
are cumulative and end in their count, request counts that agree with the latency histograms,
and route labels that are the OpenAPI document's patterns (or "unmatched"), never raw paths.

    python3 scripts/lib/check_metrics.py NAME=PORT [NAME=PORT ...]

NAME is identity or attendance; the services have had traffic (scripts/ci-schemathesis.sh runs
this after schemathesis). Exits 1 naming every problem.
"""

import json
import sys
import urllib.request
from collections import defaultdict

from prometheus_client.parser import text_string_to_metric_families

COMMON = {
    "tixgo_http_requests": "counter",
    "tixgo_http_request_duration_seconds": "histogram",
    "tixgo_storage_write_seconds": "histogram",
}
ATTENDANCE = {
    "tixgo_checkins": "counter",
    "tixgo_checkin_repeats": "counter",
    "tixgo_checkin_refusals": "counter",
}
REASONS = {"unknown_ticket", "voided", "already_checked_in", "capacity_reached"}


def fetch(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
        return answer.headers.get("Content-Type"), answer.read().decode("utf-8")


def check(name, port):
    problems = []
    content_type, text = fetch(port, "/metrics")
    if content_type != "text/plain; version=0.0.4; charset=utf-8":
        problems.append(f"Content-Type {content_type!r}")
    patterns = set(json.loads(fetch(port, "/openapi.json")[1])["paths"]) | {"unmatched"}
    families = {family.name: family for family in text_string_to_metric_families(text)}
    wanted = dict(COMMON, **(ATTENDANCE if name == "attendance" else {}))
    for family, kind in wanted.items():
        if family not in families:
            problems.append(f"no family {family}")
        elif families[family].type != kind:
            problems.append(f"{family} is a {families[family].type}, not a {kind}")
    unexpected = set(families) - set(wanted)
    if unexpected:
        problems.append(f"families not documented: {sorted(unexpected)}")

    answered = defaultdict(float)
    requests = families.get("tixgo_http_requests")
    for sample in requests.samples if requests else []:
        labels = sample.labels
        if set(labels) != {"method", "route", "status"}:
            problems.append(f"labels {labels}")
            continue
        if labels["route"] not in patterns:
            problems.append(f"route label {labels['route']!r} is no route pattern")
        answered[(labels["method"], labels["route"])] += sample.value
    if sum(answered.values()) < 100:
        problems.append(f"only {sum(answered.values())} requests counted")

    for family in ("tixgo_http_request_duration_seconds", "tixgo_storage_write_seconds"):
        series = defaultdict(dict)
        for sample in families[family].samples if family in families else []:
            labels = {k: v for k, v in sample.labels.items() if k != "le"}
            key = tuple(sorted(labels.items()))
            if sample.name.endswith("_bucket"):
                series[key].setdefault("buckets", []).append((float(sample.labels["le"]), sample.value))
            else:
                series[key][sample.name.rsplit("_", 1)[1]] = sample.value
        for key, parts in series.items():
            buckets = parts.get("buckets", [])
            counts = [n for _, n in buckets]
            if counts != sorted(counts) or [b for b, _ in buckets] != sorted(b for b, _ in buckets):
                problems.append(f"{family}{dict(key)}: buckets not cumulative: {buckets}")
            if not buckets or buckets[-1] != (float("inf"), parts.get("count")):
                problems.append(f"{family}{dict(key)}: +Inf is not the count")
            if parts.get("sum", -1) < 0:
                problems.append(f"{family}{dict(key)}: no sum")
            if family == "tixgo_http_request_duration_seconds":
                route = (dict(key).get("method"), dict(key).get("route"))
                if answered.get(route) != parts.get("count"):
                    problems.append(f"{route}: {answered.get(route)} answers, {parts.get('count')} timed")
    if families.get("tixgo_storage_write_seconds") is not None:
        writes = [s.value for s in families["tixgo_storage_write_seconds"].samples if s.name.endswith("_count")]
        if writes != [writes[0]] or writes[0] < 1:
            problems.append(f"storage writes counted: {writes}")

    if name == "attendance" and "tixgo_checkin_refusals" in families:
        reasons = {s.labels.get("reason") for s in families["tixgo_checkin_refusals"].samples}
        if reasons != REASONS:
            problems.append(f"refusal reasons {sorted(reasons)}")
        admitted = [s.value for s in families["tixgo_checkins"].samples]
        if admitted != [admitted[0]] or admitted[0] < 1:
            problems.append(f"check-ins admitted: {admitted}")
    return problems, sum(answered.values()), len(families)


def main(args):
    failed = False
    for arg in args:
        name, port = arg.split("=", 1)
        problems, answered, families = check(name, int(port))
        for problem in problems:
            print(f"FAIL {name} /metrics: {problem}")
        if problems:
            failed = True
        else:
            print(f"PASS {name} /metrics: {families} families parsed, {answered:.0f} answers counted")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
