#!/usr/bin/env python3
"""Static checks of TixGo's deployment files (no Docker engine needed).

    python3 scripts/lint_deploy.py [REPO_ROOT]

Checks docker-compose.yml and its PostgreSQL overlay (parsed with PyYAML), both Dockerfiles, .env.example and the nginx
config for the promises the README's deployment section makes: only the edge publishes ports, the services
run read-only, unprivileged, capped and health-checked, with their data on named volumes; the
images are scratch images with a numeric user, a /data volume and a healthcheck subcommand; identity
believes X-Forwarded-For from the edge's fixed address alone.

Prints one line per check and exits 1 if any failed (2 if a file cannot be read at all).
"""

import ipaddress
import json
import re
import sys
from pathlib import Path

try:
    import yaml
except ImportError:  # pragma: no cover - depends on the machine
    print("FAIL PyYAML is not installed (pip install pyyaml)")
    sys.exit(2)

SERVICES = {"identity": 18081, "attendance": 18082}
SPEC_VARIABLES = [
    "JWT_SECRET", "JWT_ALG", "TOKEN_EXPIRE_MINUTES", "PORT", "BIND_ADDR", "DATA_DIR", "WORKERS",
    "BCRYPT_COST", "REGISTRATION", "ADMIN_USERNAME", "ADMIN_PASSWORD", "DEMO_USERS",
    "CORS_ORIGINS", "WRITE_LIMIT_PER_USER", "TRUSTED_PROXIES",
]


class Checker:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok   {name}")
        else:
            self.failed += 1
            print(f"FAIL {name}" + (f": {detail}" if detail else ""))
        return ok


def as_list(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def env_files(service):
    files = []
    for entry in as_list(service.get("env_file")):
        files.append(entry.get("path") if isinstance(entry, dict) else entry)
    return files


def volume_mounts(service):
    """(source, target, read_only) for each entry of `volumes`, short or long syntax."""
    mounts = []
    for entry in as_list(service.get("volumes")):
        if isinstance(entry, dict):
            mounts.append((entry.get("source"), entry.get("target"), bool(entry.get("read_only"))))
        else:
            parts = str(entry).split(":")
            source, target = (parts[0], parts[1]) if len(parts) > 1 else (None, parts[0])
            mode = parts[2] if len(parts) > 2 else ""
            mounts.append((source, target, "ro" in mode.split(",")))
    return mounts


def network_names(service):
    """The networks a service is on, whether `networks` is a list or a mapping."""
    networks = service.get("networks")
    if isinstance(networks, dict):
        return list(networks)
    return as_list(networks)


def environment(service):
    """A service's `environment` as a mapping, whether written as a mapping or a list."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(str(e).split("=", 1) for e in env if "=" in str(e))
    return env


def memory_limit(service):
    limit = service.get("mem_limit")
    if limit is None:
        limit = (((service.get("deploy") or {}).get("resources") or {}).get("limits") or {}).get(
            "memory"
        )
    return limit


def to_bytes(size):
    match = re.fullmatch(r"(\d+)\s*([kmg]?)b?", str(size).strip().lower())
    if not match:
        return None
    return int(match.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[match.group(2)]


def healthcheck_test(service):
    test = (service.get("healthcheck") or {}).get("test")
    if isinstance(test, str):
        return ["CMD-SHELL", test]
    return list(test or [])


def check_hardening(c, name, service):
    c.check(f"compose {name}: restart unless-stopped", service.get("restart") == "unless-stopped",
            repr(service.get("restart")))
    c.check(f"compose {name}: read_only true", service.get("read_only") is True)
    c.check(f"compose {name}: cap_drop ALL", "ALL" in as_list(service.get("cap_drop")))
    c.check(f"compose {name}: no cap_add", not service.get("cap_add"),
            repr(service.get("cap_add")))
    c.check(f"compose {name}: no-new-privileges",
            any(str(o).replace(" ", "") in ("no-new-privileges:true", "no-new-privileges")
                for o in as_list(service.get("security_opt"))))
    c.check(f"compose {name}: not privileged, no host network",
            not service.get("privileged") and service.get("network_mode") != "host")
    limit = to_bytes(memory_limit(service) or "")
    c.check(f"compose {name}: memory limit <= 256m", limit is not None and 0 < limit <= 256 << 20,
            repr(memory_limit(service)))
    pids = service.get("pids_limit")
    c.check(f"compose {name}: pids_limit set", isinstance(pids, int) and 0 < pids <= 1024,
            repr(pids))
    logging = service.get("logging") or {}
    options = logging.get("options") or {}
    c.check(f"compose {name}: json-file logging with max-size and max-file",
            logging.get("driver") == "json-file" and "max-size" in options and "max-file" in options,
            json.dumps(logging))
    test = healthcheck_test(service)
    c.check(f"compose {name}: healthcheck", len(test) >= 2 and test[0] in ("CMD", "CMD-SHELL"),
            repr(test))


def check_compose(c, root):
    path = root / "docker-compose.yml"
    compose = yaml.safe_load(path.read_text())
    c.check("compose: parses to a mapping with services", isinstance(compose, dict)
            and isinstance(compose.get("services"), dict))
    services = compose.get("services") or {}
    networks = compose.get("networks") or {}
    volumes = compose.get("volumes") or {}
    c.check("compose: services edge, identity, attendance",
            {"edge", *SERVICES} <= set(services), sorted(services))

    with_ports = sorted(n for n, s in services.items() if s.get("ports"))
    c.check("compose: edge is the only service with ports", with_ports == ["edge"], with_ports)
    c.check("compose: no service uses expose-to-host tricks (network_mode host)",
            all(s.get("network_mode") != "host" for s in services.values()))
    c.check("compose: backend network is internal",
            (networks.get("backend") or {}).get("internal") is True)

    edge = services.get("edge") or {}
    ports = [str(p) for p in as_list(edge.get("ports"))]
    for port in list(SERVICES.values()) + [18443, 18444]:  # plain, then HTTPS (make-certs.sh)
        c.check(f"compose edge: publishes {port}:{port}",
                any(p == f"{port}:{port}" or p.endswith(f":{port}:{port}") for p in ports), ports)
    image = str(edge.get("image", ""))
    c.check("compose edge: nginx image with a pinned version tag",
            re.fullmatch(r"(docker\.io/)?(library/)?nginx:\d+\.\d+[\w.-]*", image) is not None,
            image)
    c.check("compose edge: nginx config mounted read-only",
            any(src and "deploy/nginx" in src and ro for src, _, ro in volume_mounts(edge)),
            volume_mounts(edge))
    tmpfs = [str(t).split(":")[0] for t in as_list(edge.get("tmpfs"))]
    c.check("compose edge: tmpfs /tmp", "/tmp" in tmpfs, tmpfs)
    c.check("compose edge: on public and backend networks",
            {"public", "backend"} <= set(network_names(edge)), edge.get("networks"))
    depends = edge.get("depends_on") or {}
    for name in SERVICES:
        condition = (depends.get(name) or {}).get("condition") if isinstance(depends, dict) else None
        c.check(f"compose edge: depends_on {name} service_healthy",
                condition == "service_healthy", repr(depends))
    check_hardening(c, "edge", edge)

    for name, port in SERVICES.items():
        service = services.get(name) or {}
        c.check(f"compose {name}: env_file .env", env_files(service) == [".env"],
                env_files(service))
        build = service.get("build") or {}
        c.check(f"compose {name}: built from Dockerfile.{name}",
                isinstance(build, dict) and build.get("dockerfile") == f"Dockerfile.{name}",
                repr(build))
        data = [src for src, target, _ in volume_mounts(service) if target == "/data"]
        c.check(f"compose {name}: named volume at /data",
                len(data) == 1 and data[0] in volumes and not re.match(r"[./~]", data[0]), data)
        c.check(f"compose {name}: no ports", not service.get("ports"))
        c.check(f"compose {name}: only on the backend network",
                network_names(service) == ["backend"], service.get("networks"))
        env = environment(service)
        c.check(f"compose {name}: PORT {port} and DATA_DIR /data",
                str(env.get("PORT")) == str(port) and env.get("DATA_DIR") == "/data", env)
        test = healthcheck_test(service)
        c.check(f"compose {name}: healthcheck runs /{name} healthcheck",
                test == ["CMD", f"/{name}", "healthcheck"], test)
        check_hardening(c, name, service)
    check_trusted_proxy(c, edge, services.get("identity") or {}, networks.get("backend") or {})


def merged(base, overlay):
    """`overlay` laid over `base` as docker compose merges files: mappings key by key,
    `volumes` by their target path, every other value replaced."""
    if not (isinstance(base, dict) and isinstance(overlay, dict)):
        return overlay
    out = dict(base)
    for key, value in overlay.items():
        if key == "volumes" and isinstance(value, list) and isinstance(base.get(key), list):
            mounts = {target: entry for entry, (_, target, _) in
                      zip(base[key], volume_mounts({"volumes": base[key]}))}
            mounts.update({target: entry for entry, (_, target, _) in
                           zip(value, volume_mounts({"volumes": value}))})
            out[key] = list(mounts.values())
        else:
            out[key] = merged(base.get(key), value)
    return out


POSTGRES_SERVICES = {"identity": 18081, "attendance": 18082, "attendance-2": 18082}


def check_postgres_overlay(c, root):
    """docker-compose.postgres.yml (SPEC §11): PostgreSQL on the backend network only, the
    services built with the `postgres` feature into images of their own and pointed at it, two
    attendance instances, and the edge balancing them."""
    base = yaml.safe_load((root / "docker-compose.yml").read_text()) or {}
    overlay = yaml.safe_load((root / "docker-compose.postgres.yml").read_text()) or {}
    compose = merged(base, overlay)
    services = compose.get("services") or {}
    c.check("postgres overlay: services postgres, identity, attendance, attendance-2, edge",
            {"postgres", "edge", *POSTGRES_SERVICES} <= set(services), sorted(services))
    with_ports = sorted(n for n, s in services.items() if s.get("ports"))
    c.check("postgres overlay: edge is the only service with ports", with_ports == ["edge"],
            with_ports)
    postgres = services.get("postgres") or {}
    c.check("postgres overlay postgres: a postgres image with a pinned major version",
            re.fullmatch(r"(docker\.io/)?(library/)?postgres:\d+[\w.-]*",
                         str(postgres.get("image", ""))) is not None, postgres.get("image"))
    c.check("postgres overlay postgres: only on the backend network",
            network_names(postgres) == ["backend"], postgres.get("networks"))
    c.check("postgres overlay postgres: data on a named volume",
            any(src in (compose.get("volumes") or {}) and target == "/var/lib/postgresql/data"
                for src, target, _ in volume_mounts(postgres)), volume_mounts(postgres))
    c.check("postgres overlay postgres: a numeric non-root user",
            re.fullmatch(r"[1-9]\d*:\d+", str(postgres.get("user", ""))) is not None,
            postgres.get("user"))
    check_hardening(c, "postgres", postgres)
    base_images = {str((base.get("services") or {}).get(n, {}).get("image")) for n in SERVICES}
    for name, port in POSTGRES_SERVICES.items():
        service = services.get(name) or {}
        kind = name.split("-")[0]
        build = service.get("build") or {}
        features = str((build.get("args") or {}).get("CARGO_FEATURES", "")).split()
        c.check(f"postgres overlay {name}: built from Dockerfile.{kind} with {kind}/postgres",
                build.get("dockerfile") == f"Dockerfile.{kind}" and f"{kind}/postgres" in features,
                repr(build))
        image = str(service.get("image"))
        c.check(f"postgres overlay {name}: an image of its own (the STB's journal image stays)",
                image not in base_images, image)
        url = str(environment(service).get("DATABASE_URL", ""))
        c.check(f"postgres overlay {name}: DATABASE_URL on the postgres service",
                re.fullmatch(r"postgres://tixgo:\$\{POSTGRES_PASSWORD[^}]*\}@postgres:5432/tixgo",
                             url) is not None, "DATABASE_URL is set" if url else "unset")
        depends = service.get("depends_on") or {}
        c.check(f"postgres overlay {name}: depends_on postgres service_healthy",
                isinstance(depends, dict)
                and (depends.get("postgres") or {}).get("condition") == "service_healthy",
                repr(depends))
        env = environment(service)
        c.check(f"postgres overlay {name}: PORT {port}", str(env.get("PORT")) == str(port), env)
        c.check(f"postgres overlay {name}: only on the backend network",
                network_names(service) == ["backend"], service.get("networks"))
        test = healthcheck_test(service)
        c.check(f"postgres overlay {name}: healthcheck runs /{kind} healthcheck",
                test == ["CMD", f"/{kind}", "healthcheck"], test)
        check_hardening(c, name, service)
    edge = services.get("edge") or {}
    mounts = volume_mounts(edge)
    c.check("postgres overlay edge: deploy/postgres/upstreams.conf over upstreams.conf, read-only",
            ("./deploy/postgres/upstreams.conf", "/etc/nginx/tixgo/upstreams.conf", True) in mounts,
            mounts)
    for name in POSTGRES_SERVICES:
        condition = ((edge.get("depends_on") or {}).get(name) or {}).get("condition")
        c.check(f"postgres overlay edge: depends_on {name} service_healthy",
                condition == "service_healthy", repr(condition))
    upstreams = "\n".join(line.split("#", 1)[0] for line in
                          (root / "deploy/postgres/upstreams.conf").read_text().splitlines())
    for upstream, names in [("tixgo_identity", ["identity"]),
                            ("tixgo_attendance", ["attendance", "attendance-2"])]:
        block = re.search(rf"^upstream {upstream} \{{(.*?)^\}}", upstreams, re.M | re.S)
        found = re.findall(r"^\s*server ([\w-]+:\d+)", block.group(1), re.M) if block else []
        c.check(f"deploy/postgres/upstreams.conf: {upstream} balances {', '.join(names)}",
                found == [f"{n}:{POSTGRES_SERVICES[n]}" for n in names], found)


def check_trusted_proxy(c, edge, identity, backend):
    """identity believes X-Forwarded-For from the edge alone (SPEC §10): TRUSTED_PROXIES is
    exactly the edge's fixed address on backend, and that address is one the network can give
    the edge and never gives another container."""
    edge_networks = edge.get("networks")
    edge_backend = (edge_networks.get("backend") if isinstance(edge_networks, dict) else None) or {}
    address = edge_backend.get("ipv4_address")
    try:
        address = ipaddress.IPv4Address(str(address))
    except ValueError:
        address = None
    c.check("compose edge: a fixed ipv4_address on backend", address is not None,
            repr(edge_backend))
    trusted = str(environment(identity).get("TRUSTED_PROXIES", ""))
    c.check("compose identity: TRUSTED_PROXIES is exactly the edge's ipv4_address",
            address is not None and trusted == str(address),
            f"TRUSTED_PROXIES {trusted!r}, edge {edge_backend.get('ipv4_address')!r}")
    configs = as_list((backend.get("ipam") or {}).get("config"))
    pools = [entry for entry in configs if isinstance(entry, dict) and "subnet" in entry]
    try:
        subnets = [ipaddress.IPv4Network(str(pool["subnet"])) for pool in pools]
        ranges = [ipaddress.IPv4Network(str(pool["ip_range"])) for pool in pools
                  if "ip_range" in pool]
    except ValueError as error:
        c.check("compose backend: ipam subnet and ip_range are IPv4 networks", False, str(error))
        return
    c.check("compose backend: one fixed ipam subnet", len(subnets) == 1, repr(configs))
    if len(subnets) != 1 or address is None:
        return
    subnet = subnets[0]
    # The first host address is the network's gateway (Docker's default), the last the broadcast.
    c.check("compose edge: its backend address is a host inside the backend subnet, "
            "not the gateway",
            address in subnet and address not in (subnet.network_address,
                                                   subnet.network_address + 1,
                                                   subnet.broadcast_address),
            f"{address} in {subnet}")
    c.check("compose backend: ip_range inside the subnet and without the edge's address "
            "(no other container can be given it)",
            len(ranges) == 1 and ranges[0].subnet_of(subnet) and address not in ranges[0],
            f"ip_range {[str(r) for r in ranges]}, subnet {subnet}, edge {address}")


def dockerfile_instructions(text):
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    instructions, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        keyword, _, args = current.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        current = ""
    return instructions


def check_dockerfile(c, root, name, port):
    path = root / f"Dockerfile.{name}"
    instructions = dockerfile_instructions(path.read_text())
    froms = [i for i, (k, _) in enumerate(instructions) if k == "FROM"]
    c.check(f"Dockerfile.{name}: multi-stage", len(froms) >= 2, len(froms))
    stage_names = [re.split(r"\s+[Aa][Ss]\s+", instructions[i][1]) for i in froms]
    c.check(f"Dockerfile.{name}: a stage named build",
            any(len(s) == 2 and s[1].strip() == "build" for s in stage_names), stage_names)
    last = froms[-1] if froms else 0
    c.check(f"Dockerfile.{name}: runtime stage FROM scratch",
            bool(froms) and instructions[last][1].split()[0] == "scratch",
            instructions[last][1] if froms else None)
    runtime = instructions[last + 1:]

    def args(keyword):
        return [a for k, a in runtime if k == keyword]

    copies = args("COPY")
    c.check(f"Dockerfile.{name}: runtime copies /out/{name} from the build stage",
            any(a.split()[:1] == ["--from=build"] and f"/out/{name}" in a for a in copies)
            or any("--from=build" in a and f"/out/{name}" in a for a in copies), copies)
    c.check(f"Dockerfile.{name}: /data copied with --chown to the runtime user",
            any("--chown=10001" in a and a.split()[-1] == "/data" for a in copies), copies)
    users = args("USER")
    c.check(f"Dockerfile.{name}: numeric non-root USER",
            len(users) == 1 and re.fullmatch(r"[1-9]\d*(:\d+)?", users[0]) is not None, users)
    volumes = " ".join(args("VOLUME"))
    c.check(f"Dockerfile.{name}: VOLUME /data",
            "/data" in re.findall(r'"?(/[\w/]+)"?', volumes), volumes)
    envs = " ".join(args("ENV"))
    c.check(f"Dockerfile.{name}: ENV DATA_DIR=/data",
            re.search(r"(^|\s)DATA_DIR=/data(\s|$)", envs) is not None, envs)
    c.check(f"Dockerfile.{name}: EXPOSE {port}", str(port) in " ".join(args("EXPOSE")).split())
    c.check(f"Dockerfile.{name}: STOPSIGNAL SIGTERM", args("STOPSIGNAL") == ["SIGTERM"],
            args("STOPSIGNAL"))
    health = args("HEALTHCHECK")
    exec_form = None
    if len(health) == 1 and "CMD" in health[0]:
        try:
            exec_form = json.loads(health[0].split("CMD", 1)[1].strip())
        except ValueError:
            exec_form = None
    c.check(f"Dockerfile.{name}: HEALTHCHECK CMD [\"/{name}\", \"healthcheck\"]",
            exec_form == [f"/{name}", "healthcheck"], health)
    entry = args("ENTRYPOINT")
    try:
        entry_form = json.loads(entry[0]) if len(entry) == 1 else None
    except ValueError:
        entry_form = None
    c.check(f"Dockerfile.{name}: ENTRYPOINT exec form [\"/{name}\"]",
            entry_form == [f"/{name}"], entry)
    c.check(f"Dockerfile.{name}: no RUN in the scratch stage", not args("RUN"))


def check_env_example(c, root):
    text = (root / ".env.example").read_text()
    lines = text.splitlines()
    c.check(".env.example: JWT_SECRET= left empty for the owner", "JWT_SECRET=" in lines)
    c.check(".env.example: closed registration with a bootstrap admin whose password is the "
            "owner's to set", {"REGISTRATION=closed", "ADMIN_USERNAME=admin", "ADMIN_PASSWORD="}
            <= set(lines))
    c.check(".env.example: says how to make a secret", "openssl rand -hex 32" in text)
    missing = [v for v in SPEC_VARIABLES if v not in text]
    c.check(".env.example: mentions every variable", not missing, missing)
    inline = [line for line in lines if re.match(r"^[A-Z_]+=.*\s#", line)]
    c.check(".env.example: no comment after a value", not inline, inline)


def check_nginx(c, root):
    conf = (root / "deploy/nginx/nginx.conf").read_text()
    upstreams = (root / "deploy/nginx/upstreams.conf").read_text()
    active = "\n".join(line.split("#", 1)[0] for line in conf.splitlines())
    for port in SERVICES.values():
        # scripts/ci-deploy-checks.sh and ci-hostile-edge.sh rewrite exactly these lines.
        c.check(f"nginx.conf: exactly one 'listen {port} reuseport;'",
                len(re.findall(rf"^\s*listen {port} reuseport;\s*$", active, re.M)) == 1)
    for directive in ["client_max_body_size 64k;", "server_tokens off;", "limit_req_status 429;",
                      "proxy_request_buffering on;", "client_body_buffer_size 64k;",
                      "underscores_in_headers off;", "ignore_invalid_headers on;",
                      "include upstreams.conf;", "pid /tmp/nginx.pid;"]:
        c.check(f"nginx.conf: {directive}", re.search(
            r"^\s*" + re.escape(directive).replace(r"\ ", r"\s+"), active, re.M) is not None)
    c.check("nginx.conf: the attendance servers include ticket-import.conf",
            len(re.findall(r"^\s*include ticket-import\.conf;", active, re.M)) == 1)
    ticket_import = "\n".join(line.split("#", 1)[0]
                              for line in (root / "deploy/nginx/ticket-import.conf").read_text().splitlines())
    for directive in ["client_max_body_size 16m;", "proxy_request_buffering off;",
                      "include tixgo-error-pages.conf;", "internal;"]:
        c.check(f"ticket-import.conf: {directive}", re.search(
            r"^\s*" + re.escape(directive).replace(r"\ ", r"\s+"), ticket_import, re.M) is not None)
    # The same locations for the plain and the TLS server of each origin (include files), the
    # gate page's login routed to identity on the attendance origin, HTTPS without HSTS.
    def active_of(name):
        return "\n".join(line.split("#", 1)[0]
                         for line in (root / "deploy/nginx" / name).read_text().splitlines())
    https = active_of("https.conf.template")
    attendance_locations = active_of("attendance-locations.conf")
    for name in ["identity-locations.conf", "attendance-locations.conf"]:
        c.check(f"nginx.conf: one server includes {name}",
                len(re.findall(rf"^\s*include {re.escape(name)};", active, re.M)) == 1)
        c.check(f"https.conf.template: one server includes {name}",
                len(re.findall(rf"^\s*include {re.escape(name)};", https, re.M)) == 1)
        c.check(f"{name}: includes internal-endpoints.conf (/metrics and /ready are not published)",
                len(re.findall(r"^include internal-endpoints\.conf;", active_of(name), re.M)) == 1)
    internal = active_of("internal-endpoints.conf")
    c.check("internal-endpoints.conf: /metrics and /ready, however spelt, return 404",
            re.search(r"^location ~ \^/\+\(metrics\|ready\)/\*\$ \{\s*return 404;\s*\}", internal, re.M)
            is not None)
    for directive in ["include ticket-import.conf;", "include tixgo-errors.conf;",
                      "listen 18443 ssl reuseport;", "listen 18444 ssl reuseport;",
                      "ssl_certificate certs/server.crt;", "ssl_certificate_key certs/server.key;"]:
        c.check(f"https.conf.template: {directive}", re.search(
            r"^\s*" + re.escape(directive).replace(r"\ ", r"\s+"), https, re.M) is not None)
    c.check("https.conf.template: no Strict-Transport-Security (a box without its certificate "
            "must not lock phones out)", "strict-transport-security" not in https.lower())
    for path, zone in [("/auth/login", "tixgo_login"), ("/auth/register", "tixgo_register")]:
        block = re.search(rf"^location {re.escape(path)} \{{(.*?)^\}}", attendance_locations, re.M | re.S)
        c.check(f"attendance-locations.conf: {path} -> identity with limit_req zone={zone}",
                block is not None and f"zone={zone}" in block.group(1)
                and "proxy_pass http://tixgo_identity;" in block.group(1))
    block = re.search(r"^location /auth/ \{(.*?)^\}", attendance_locations, re.M | re.S)
    c.check("attendance-locations.conf: /auth/ -> identity",
            block is not None and "proxy_pass http://tixgo_identity;" in block.group(1))
    c.check("nginx.conf: /tixgo-ca.crt serves certs/ca.crt as application/x-x509-ca-cert",
            re.search(r"location = /tixgo-ca\.crt \{\s*types \{ \}\s*default_type application/x-x509-ca-cert;"
                      r"[^}]*alias /etc/nginx/tixgo/certs/ca\.crt;", active) is not None)
    c.check("nginx.conf: no user directive (runs unprivileged in compose)",
            re.search(r"^\s*user\s", active, re.M) is None)
    for name, port in SERVICES.items():
        c.check(f"upstreams.conf: server {name}:{port}",
                re.search(rf"^\s*server {name}:{port}[\s;]", upstreams, re.M) is not None)

    # Every connection, to a client or to a service, is one descriptor and one of a worker's
    # worker_connections; the rest of a worker's descriptors are a handful (listeners, logs).
    def number(directive):
        match = re.search(rf"^\s*{directive}\s+(\d+)\s*;", active, re.M)
        return int(match.group(1)) if match else None

    connections, nofile = number("worker_connections"), number("worker_rlimit_nofile")
    c.check("nginx.conf: worker_rlimit_nofile >= worker_connections + 64",
            connections is not None and nofile is not None and nofile >= connections + 64,
            f"worker_connections {connections}, worker_rlimit_nofile {nofile}")
    # An unprivileged master cannot raise its workers' hard limit: the container must allow it.
    compose = yaml.safe_load((root / "docker-compose.yml").read_text()) or {}
    limit = (((compose.get("services") or {}).get("edge") or {}).get("ulimits") or {}).get("nofile")
    soft, hard = (limit.get("soft"), limit.get("hard")) if isinstance(limit, dict) else (limit, limit)
    c.check("compose edge: ulimits nofile (soft and hard) >= nginx.conf worker_rlimit_nofile",
            nofile is not None and all(isinstance(v, int) and v >= nofile for v in (soft, hard)),
            f"ulimits nofile {limit!r}, worker_rlimit_nofile {nofile}")


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
    c = Checker()
    try:
        check_compose(c, root)
        check_postgres_overlay(c, root)
        for name, port in SERVICES.items():
            check_dockerfile(c, root, name, port)
        check_env_example(c, root)
        check_nginx(c, root)
    except (OSError, yaml.YAMLError) as error:
        print(f"FAIL cannot read the deployment files: {error}")
        return 2
    print(f"lint_deploy.py: {c.passed} checks ok, {c.failed} not ok")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
