"""Static checks of the deployable stack against the code, without Docker or a cluster.

The compose file, the Dockerfile, the Kubernetes manifests, the alert rules and the Grafana
dashboard all repeat names the code owns: settings, ports, topics, metrics. These tests fail
when one side is renamed and the other is not.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import shutil
import subprocess
import urllib.parse
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from prometheus_client import CollectorRegistry

from schemas import outputs
from schemas.outputs import ChurnRisk, SegmentChange
from stream.config import Settings, Topics
from stream.core.config import EngineConfig
from stream.core.engine import Engine
from stream.kafka.topics import COMPACTED
from stream.worker import metrics as metrics_module
from stream.worker.metrics import Metrics
from tests.unit.events import EMITTED, interaction, purchase

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
WORKERS = ("worker-1", "worker-2")
# Labels Prometheus adds to every scraped series, and the one histogram_quantile consumes.
TARGET_LABELS = {"instance", "job", "namespace", "pod"}


# -- loading -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


@pytest.fixture(scope="module")
def k8s() -> dict[str, list[dict[str, Any]]]:
    """Every manifest the kustomization applies, by kind."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for name in kustomization["resources"]:
        for doc in yaml.safe_load_all((K8S / name).read_text()):
            by_kind.setdefault(doc["kind"], []).append(doc)
    return by_kind


def one(k8s: dict[str, list[dict[str, Any]]], kind: str) -> dict[str, Any]:
    (doc,) = k8s[kind]
    return doc


@pytest.fixture(scope="module")
def statefulset(k8s: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return one(k8s, "StatefulSet")


@pytest.fixture(scope="module")
def worker_container(statefulset: dict[str, Any]) -> dict[str, Any]:
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    return container


@pytest.fixture(scope="module")
def configmap(k8s: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    return one(k8s, "ConfigMap")["data"]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, continuation lines joined, comments dropped."""
    lines = [
        line
        for line in (DEPLOY / "Dockerfile").read_text().splitlines()
        if not line.lstrip().startswith("#")
    ]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [
        (parts[0].upper(), parts[1] if len(parts) > 1 else "")
        for parts in (line.strip().split(None, 1) for line in joined.splitlines())
        if parts
    ]


def dockerfile(instruction: str) -> list[str]:
    return [args for name, args in dockerfile_instructions() if name == instruction]


def healthcheck() -> tuple[str, list[str]]:
    """The HEALTHCHECK's options and its command, exec form."""
    (args,) = dockerfile("HEALTHCHECK")
    options, _, command = args.partition(" CMD ")
    return options, json.loads(command)


def dockerfile_env() -> dict[str, str]:
    env = {}
    for args in dockerfile("ENV"):
        for assignment in args.split():
            key, _, value = assignment.partition("=")
            env[key] = value
    return env


def worker_env(services: dict[str, Any], name: str) -> dict[str, str]:
    return {key: str(value) for key, value in services[name]["environment"].items()}


# -- settings ------------------------------------------------------------------------------


def known_setting_names() -> set[str]:
    """Every STREAM_* variable stream/config.py reads: the literal names, plus the two
    families it builds from dataclass fields (topics and engine thresholds)."""
    source = (ROOT / "stream" / "config.py").read_text()
    names = set(re.findall(r"\"(STREAM_[A-Z0-9_]*[A-Z0-9])\"", source))
    assert "STREAM_BROKER" in names and "STREAM_WEB_PORT" in names
    # If config.py stops building these families, the sets below must change with it.
    assert 'f"STREAM_TOPIC_{' in source and '"STREAM_ENGINE_"' in source
    names |= {f"STREAM_TOPIC_{f.name.upper()}" for f in fields(Topics)}
    names |= {f"STREAM_ENGINE_{f.name.upper()}" for f in fields(EngineConfig)}
    return names


def deployed_settings(
    services: dict[str, Any], configmap: dict[str, str]
) -> Iterator[tuple[str, dict[str, str]]]:
    yield "Dockerfile ENV", {k: v for k, v in dockerfile_env().items() if k.startswith("STREAM_")}
    for name in WORKERS:
        yield f"compose {name}", worker_env(services, name)
    yield "k8s ConfigMap", dict(configmap)


def pod_env(worker_container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The StatefulSet container's own ``env`` entries (per pod, unlike the ConfigMap)."""
    return {entry["name"]: entry for entry in worker_container.get("env", [])}


def test_every_deployed_setting_is_one_the_code_reads(
    services, configmap, worker_container
) -> None:
    known = known_setting_names()
    for where, env in deployed_settings(services, configmap):
        unknown = sorted(set(env) - known)
        assert not unknown, f"{where} sets {unknown}, which stream/config.py never reads"
    unknown = sorted(set(pod_env(worker_container)) - known)
    assert not unknown, f"the StatefulSet sets {unknown}, which stream/config.py never reads"


def test_deployed_settings_are_valid(services, configmap, monkeypatch) -> None:
    for where, env in deployed_settings(services, configmap):
        with monkeypatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            settings = Settings.from_env()
        # In a container the web server must listen beyond loopback.
        assert settings.web_bind == "0.0.0.0", where


def test_workers_share_one_configuration_but_their_address(services) -> None:
    first, *others = (worker_env(services, name) for name in WORKERS)
    first.pop("STREAM_WEB_HOST")
    for env in others:
        env.pop("STREAM_WEB_HOST")
        assert env == first


UNSPECIFIED = {"0.0.0.0", "::", "[::]"}


def test_each_compose_worker_advertises_its_own_address(services) -> None:
    """Faust keys its partition map by each worker's canonical URL (STREAM_WEB_HOST) and
    forwards /customers/{id} there: shared or unreachable addresses misroute look-ups."""
    hosts = [worker_env(services, name).get("STREAM_WEB_HOST") for name in WORKERS]
    assert len(set(hosts)) == len(hosts), f"two workers advertise the same address: {hosts}"
    for name, host in zip(WORKERS, hosts, strict=True):
        assert host not in UNSPECIFIED, f"{name} advertises {host}, which no one can reach"
        # The service name is what compose's DNS resolves for the other worker.
        assert host == name == services[name]["hostname"]


def test_each_pod_advertises_its_own_address(worker_container, configmap) -> None:
    entry = pod_env(worker_container)["STREAM_WEB_HOST"]
    assert entry["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    # Nor a shared default that a pod, or a plain `docker run`, could fall back to.
    assert "STREAM_WEB_HOST" not in configmap
    assert "STREAM_WEB_HOST" not in dockerfile_env()


# -- images and files ----------------------------------------------------------------------


def image_tag(image: str) -> str:
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else ""


def all_images(services: dict[str, Any], k8s: dict[str, list[dict[str, Any]]]) -> list[str]:
    images = [service["image"] for service in services.values() if "image" in service]
    images += [args.split()[0] for args in dockerfile("FROM")]
    for docs in k8s.values():
        for doc in docs:
            pod = doc.get("spec", {}).get("template", {}).get("spec", {})
            images += [
                c["image"] for c in pod.get("containers", []) + pod.get("initContainers", [])
            ]
    return images


def test_every_image_is_pinned_to_a_version(services, k8s) -> None:
    images = all_images(services, k8s)
    assert len(images) >= 7
    for image in images:
        tag = image_tag(image)
        assert tag and tag != "latest" and re.search(r"\d", tag), f"{image} is not pinned"


def test_compose_and_k8s_run_the_image_compose_builds(services, worker_container) -> None:
    for name in WORKERS:
        build = services[name]["build"]
        assert (ROOT / build["context"] / build["dockerfile"]) == DEPLOY / "Dockerfile"
        assert services[name]["image"] == worker_container["image"]


def test_dockerfile_copies_only_files_that_exist_and_are_not_ignored() -> None:
    ignore = [
        line.strip()
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ignore[0] == "*", "the ignore file is an allow-list"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for allowed_path in allowed:
        assert (ROOT / allowed_path).exists(), allowed_path
    copies = [args.split() for args in dockerfile("COPY") if not args.startswith("--from")]
    assert copies
    for *sources, _destination in copies:
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
            assert source.rstrip("/") in allowed, f"COPY {source}: excluded by the ignore file"


def test_dockerfile_runs_the_worker_as_a_non_root_user(statefulset) -> None:
    (user,) = dockerfile("USER")
    assert user not in ("root", "0")
    assert dockerfile("ENTRYPOINT") == ['["stream"]']
    assert dockerfile("CMD") == ['["worker"]']
    assert json.loads(dockerfile("VOLUME")[0]) == [dockerfile_env()["STREAM_DATA_DIR"]]
    # The pod runs as the image's user, whose group owns the claimed volume.
    security = statefulset["spec"]["template"]["spec"]["securityContext"]
    assert str(security["runAsUser"]) == user == str(security["fsGroup"])


def bind_mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> host path for the service's ``./`` bind mounts."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            mounts[target] = ROOT / source
    return mounts


def test_every_file_compose_mounts_exists(services) -> None:
    mounted = 0
    for service in services.values():
        for target, source in bind_mounts(service).items():
            assert source.exists(), f"{source} (mounted at {target}) is missing"
            mounted += 1
    assert mounted >= 4


def in_container(service: dict[str, Any], path: str) -> Path | None:
    """The host file behind ``path`` inside the service's container, if it is bind-mounted."""
    for target, source in bind_mounts(service).items():
        if path == target or path.startswith(target.rstrip("/") + "/"):
            return source / Path(path).relative_to(target)
    return None


def test_prometheus_and_grafana_read_files_that_are_mounted(services) -> None:
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    for rule_file in prometheus["rule_files"]:
        host = in_container(services["prometheus"], rule_file)
        assert host is not None and host.exists(), rule_file
    grafana = services["grafana"]
    provisioning = in_container(grafana, "/etc/grafana/provisioning")
    assert provisioning is not None
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "segmentation.yml").read_text())[
        "providers"
    ]
    dashboards = in_container(grafana, provider["options"]["path"])
    assert dashboards is not None and list(dashboards.glob("*.json"))
    home = in_container(
        grafana, grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    )
    assert home is not None and home.exists()


# The HTTP client each pinned image ships, for its health check: prom/prometheus is built on
# Prometheus' busybox image (wget, no curl); Grafana's Alpine image adds curl for health checks.
# Upgrading to an image without it (a distroless variant) must change the check.
HEALTH_CLIENTS = {"prom/prometheus": "wget", "grafana/grafana": "curl"}


def compose_ps_claim() -> tuple[set[str], str]:
    """What deploy/README.md says ``docker compose ps`` shows: the one-shot services named
    as exited 0, and what it says of the rest."""
    readme = (DEPLOY / "README.md").read_text()
    claim = re.search(
        r"docker compose ps +# (`[\w-]+`(?:, `[\w-]+`)*) should have exited 0, (.+)", readme
    )
    assert claim is not None, "deploy/README.md no longer says what `docker compose ps` shows"
    return set(re.findall(r"`([\w-]+)`", claim[1])), claim[2]


def test_the_services_the_readme_calls_healthy_have_health_checks(services) -> None:
    """A service without a health check shows no health in ``docker compose ps`` at all."""
    one_shot, rest = compose_ps_claim()
    assert rest == "the rest be healthy"
    assert one_shot == {name for name, s in services.items() if s.get("restart") == "no"}
    for name, service in services.items():
        if name in one_shot:
            continue
        built = service.get("build", {}).get("dockerfile") == "deploy/Dockerfile"
        assert "healthcheck" in service or (built and dockerfile("HEALTHCHECK")), name


def test_prometheus_and_grafana_checks_use_a_client_their_image_ships(services) -> None:
    for name, path in (("prometheus", "/-/ready"), ("grafana", "/api/health")):
        service = services[name]
        command, program, *args = service["healthcheck"]["test"]
        assert command == "CMD"
        assert program == HEALTH_CLIENTS[service["image"].rsplit(":", 1)[0]], name
        url = urllib.parse.urlsplit(args[-1])
        (mapping,) = service["ports"]
        assert url.port == int(mapping.rsplit(":", 1)[1]), f"{name} checks another port"
        assert url.path == path


def test_kustomization_applies_every_manifest() -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    # The scrape job is Prometheus configuration, not a Kubernetes object.
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


# -- ports ---------------------------------------------------------------------------------


def test_web_port_is_the_same_everywhere(services, configmap, worker_container, k8s) -> None:
    port = Settings.web_port
    (expose,) = dockerfile("EXPOSE")
    assert int(expose) == port == int(dockerfile_env()["STREAM_WEB_PORT"])
    for name in WORKERS:
        assert int(worker_env(services, name)["STREAM_WEB_PORT"]) == port
        container_ports = {int(mapping.rsplit(":", 1)[1]) for mapping in services[name]["ports"]}
        assert container_ports == {port}
    host_ports = [mapping.rsplit(":", 2)[-2] for n in WORKERS for mapping in services[n]["ports"]]
    assert len(set(host_ports)) == len(host_ports), "two workers publish the same host port"

    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (job,) = prometheus["scrape_configs"]
    targets = [t for static in job["static_configs"] for t in static["targets"]]
    assert sorted(targets) == sorted(f"{name}:{port}" for name in WORKERS)
    assert job["metrics_path"] == "/metrics"

    assert int(configmap["STREAM_WEB_PORT"]) == port
    ports = {p["name"]: p["containerPort"] for p in worker_container["ports"]}
    assert ports == {"http": port}
    for service in k8s["Service"]:
        for service_port in service["spec"]["ports"]:
            assert service_port["targetPort"] in ports
            assert service_port["port"] == port
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert worker_container[probe]["httpGet"]["port"] in ports

    (scrape,) = yaml.safe_load((K8S / "prometheus-scrape.yml").read_text())
    port_names = [
        rule["regex"]
        for rule in scrape["relabel_configs"]
        if rule["source_labels"] == ["__meta_kubernetes_pod_container_port_name"]
    ]
    assert port_names == ["http"]


# -- topics and broker ---------------------------------------------------------------------


def _configs(script: str) -> dict[str, str]:
    """The topic configs a kafka-topics.sh script sets with ``--config K=V``."""
    return dict(re.findall(r"--config ([\w.]+)=(\S+)", script))


def test_topic_init_creates_exactly_the_topics_the_code_uses(services) -> None:
    init = services["topics"]
    env = {key: str(value) for key, value in init["environment"].items()}
    topics = Topics()
    created = env["TOPICS"].split() + env["COMPACTED_TOPICS"].split()
    assert sorted(created) == sorted(topics.all)
    assert env["COMPACTED_TOPICS"].split() == [topics.profiles, topics.population]
    script = " ".join(init["command"])
    for name in env:
        assert f"$${name}" in script, f"the init script ignores {name}"
    assert _configs(script) == COMPACTED
    assert init["image"] == services["kafka"]["image"]
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in WORKERS:
        worker = worker_env(services, name)
        assert worker["STREAM_PARTITIONS"] == env["PARTITIONS"]
        assert worker["STREAM_REPLICATION"] == env["REPLICATION"]
        assert services[name]["depends_on"]["topics"]["condition"] == (
            "service_completed_successfully"
        )


def test_kubernetes_steps_create_every_topic(configmap) -> None:
    """The workers never create topics (a missing input stops them with exit 2), so the
    Kubernetes steps must, as the compose `topics` service does."""
    readme = (DEPLOY / "README.md").read_text()
    steps = readme.split("## Kubernetes", 1)[1].split("\n## ", 1)[0]
    scripts = [block for block in steps.split("```")[1::2] if "kafka-topics.sh" in block]
    assert scripts, "deploy/README.md: the Kubernetes steps do not create the topics"
    script = re.sub(r"\\\n\s*", " ", "\n".join(scripts))
    topics = Topics()
    for name in topics.all:
        assert re.search(rf"[ \t]{re.escape(name)}\b", script), f"{name} is not created"
    # Each topic is created by one command or one loop; only two of them compacted.
    commands = re.split(r"\n\s*done\b", script)
    for name in topics.all:
        [command] = [c for c in commands if re.search(rf"[ \t]{re.escape(name)}\b", c)]
        compacted = name in (topics.profiles, topics.population)
        assert _configs(command) == (COMPACTED if compacted else {}), name
    assert "--create --if-not-exists" in script
    for setting in ("PARTITIONS", "REPLICATION"):
        assert re.search(rf"\b{setting}={configmap[f'STREAM_{setting}']}\b", script), setting


def test_kafka_runs_in_kraft_mode_and_advertises_what_workers_dial(services, monkeypatch) -> None:
    kafka = services["kafka"]["environment"]
    assert set(kafka["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert not any("ZOOKEEPER" in key for key in kafka)
    advertised = {
        listener.split("://", 1)[1] for listener in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")
    }
    monkeypatch.setenv("STREAM_BROKER", worker_env(services, WORKERS[0])["STREAM_BROKER"])
    assert set(Settings.from_env().bootstrap_servers.split(",")) <= advertised
    assert services["topics"]["environment"]["BOOTSTRAP"] in advertised


def test_each_worker_keeps_its_table_store_on_its_own_volume(services, compose) -> None:
    claimed = []
    for name in WORKERS:
        data_dir = worker_env(services, name)["STREAM_DATA_DIR"]
        volumes = [v for v in services[name]["volumes"] if v.split(":")[1] == data_dir]
        assert len(volumes) == 1, f"{name} has no volume at {data_dir}"
        source = volumes[0].split(":")[0]
        assert source in compose["volumes"]
        claimed.append(source)
    assert len(set(claimed)) == len(claimed)


# -- kubernetes ----------------------------------------------------------------------------


def test_statefulset_claims_a_volume_for_the_table_store(
    statefulset, worker_container, configmap
) -> None:
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in worker_container["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == configmap["STREAM_DATA_DIR"]
    assert worker_container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert worker_container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    (source,) = worker_container["envFrom"]
    assert source["configMapRef"]["name"] == "stream-segmentation"


# The worker yields to the event loop every 500 records, so HTTP waits for one slice at most:
# catching up a backlog on the embedded broker's 4 partitions (2 shared cores), /healthz
# answered within 0.5 s, where a fetch handled whole had kept it waiting up to 7.5 s.
SLOWEST_ANSWER_S = 0.5


def test_probes_wait_for_a_busy_worker_but_not_for_a_hung_one(worker_container) -> None:
    """Too short, probes fail while a worker catches up: it leaves the Service and the
    liveness probe restarts it mid-catch-up, again and again. Too long, a hung worker keeps
    its partitions and its place in the Service for minutes."""
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        timeout = worker_container[probe].get("timeoutSeconds", 1)  # Kubernetes' default
        assert 4 * SLOWEST_ANSWER_S <= timeout <= 10, f"{probe} gives up after {timeout} s"
    options, command = healthcheck()
    docker_timeout = re.search(r"--timeout=(\d+)s", options)
    assert docker_timeout is not None, "HEALTHCHECK without --timeout waits 30 s by default"
    request_timeout = float(command[command.index("--timeout") + 1])
    # The request gives up first, so a slow answer fails the check rather than killing it.
    assert 4 * SLOWEST_ANSWER_S <= request_timeout < int(docker_timeout[1]) <= 10


def test_the_image_health_check_asks_where_the_worker_listens() -> None:
    """STREAM_WEB_BIND may be IPv6 only (``::``), where a fixed 127.0.0.1 is refused: the
    check derives its address from the setting (tests/unit/test_health.py)."""
    _, command = healthcheck()
    assert command[:3] == ["python", "-m", "stream.tools.health"]
    assert importlib.util.find_spec(command[2]) is not None


def test_selectors_match_the_pods(k8s, statefulset) -> None:
    pod_labels = statefulset["spec"]["template"]["metadata"]["labels"]
    assert statefulset["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    pdb = one(k8s, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    for service in k8s["Service"]:
        assert service["spec"]["selector"].items() <= pod_labels.items()
    headless = [s for s in k8s["Service"] if s["spec"].get("clusterIP") == "None"]
    assert [s["metadata"]["name"] for s in headless] == [statefulset["spec"]["serviceName"]]
    assert len(k8s["Service"]) == 2
    assert one(k8s, "ConfigMap")["metadata"]["name"] == "stream-segmentation"
    (scrape,) = yaml.safe_load((K8S / "prometheus-scrape.yml").read_text())
    kept = {
        rule["source_labels"][0]: rule["regex"]
        for rule in scrape["relabel_configs"]
        if rule.get("action") == "keep"
    }
    label = "__meta_kubernetes_pod_label_app_kubernetes_io_name"
    assert kept[label] == pod_labels["app.kubernetes.io/name"]


# -- metrics in alerts and dashboards ------------------------------------------------------


def exposed_series() -> dict[str, set[str]]:
    """Series name -> label names, as a fresh Metrics registry exposes them."""
    metrics = Metrics(CollectorRegistry())
    labels_of = {
        wrapper._name: set(wrapper._labelnames)  # pinned prometheus_client: no public API
        for wrapper in vars(metrics).values()
        if hasattr(wrapper, "_labelnames")
    }
    series: dict[str, set[str]] = {}
    for family in metrics.registry.collect():
        labels = labels_of.get(family.name, set())
        labels |= {key for sample in family.samples for key in sample.labels}
        suffixes = {
            "counter": ["_total"],
            "histogram": ["_bucket", "_sum", "_count"],
            "info": ["_info"],
            "gauge": [""],
        }[family.type]
        for suffix in suffixes:
            series[family.name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return series


SEGMENT_VALUES = {
    value
    for kind in (
        outputs.RfmSegment,
        outputs.ValueTier,
        outputs.LifecycleStage,
        outputs.Satisfaction,
    )
    for value in get_args(kind)
} | {metrics_module.NONE}
LABEL_VALUES = {
    "reason": set(metrics_module.DEAD_LETTER_REASONS),
    "stage": set(metrics_module.LIFECYCLE_STAGES),
    "band": set(metrics_module.CHURN_BANDS),
    "operation": {"event", "tick"},
    "dimension": set(get_args(outputs.Dimension)) | {"churn_risk"},
    "from_value": SEGMENT_VALUES,
    "to_value": SEGMENT_VALUES,
}


def check_expression(expr: str, series: dict[str, set[str]]) -> set[str]:
    """Assert every metric, selector label and grouping label exists; return the labels the
    result may carry (for legends and annotations)."""
    used = set(re.findall(r"\bsegmentation_\w+", expr))
    for name in used:
        assert name in series, f"{name} is not exposed by stream/worker/metrics.py: {expr}"
    available = set().union(*(series[name] for name in used)) | TARGET_LABELS
    for name, selector in re.findall(r"\b(segmentation_\w+)\{([^}]*)\}", expr):
        for label, value in re.findall(r"(\w+)\s*(?:=~|!=|!~|=)\s*\"([^\"]*)\"", selector):
            assert label in series[name], f"{name} has no label {label!r}: {expr}"
            if label in LABEL_VALUES:
                assert value in LABEL_VALUES[label], f"{label}={value!r} never occurs: {expr}"
    for group in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
        for label in filter(None, (part.strip() for part in group.split(","))):
            assert label in available, f"no metric in the expression has {label!r}: {expr}"
    return available


@pytest.fixture(scope="module")
def rules() -> list[dict[str, Any]]:
    alerts = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    return [rule for group in alerts["groups"] for rule in group["rules"]]


def test_alert_rules_use_exposed_metrics_and_labels(rules) -> None:
    series = exposed_series()
    for rule in rules:
        available = check_expression(rule["expr"], series)
        assert rule["labels"]["severity"] in ("info", "warning", "critical")
        assert rule["annotations"]["summary"]
        for text in rule["annotations"].values():
            for label in re.findall(r"\$labels\.(\w+)", text):
                assert label in available, f"{rule['alert']} annotates with missing {label!r}"


def test_the_required_alerts_exist(rules) -> None:
    by_name = {rule["alert"]: rule["expr"] for rule in rules}
    assert {"ConsumerLagGrowing", "ConsumerStalled", "DeadLetterSpike", "DecliningSurge"} <= set(
        by_name
    )
    assert "segmentation_consumer_lag_messages" in by_name["ConsumerLagGrowing"]
    assert "segmentation_dead_letters_total" in by_name["DeadLetterSpike"]
    assert 'to_value="declining"' in by_name["DecliningSurge"]
    # A worker reports no lag until it is ready: a stuck rebalance shows only here.
    assert "segmentation_ready" in by_name["WorkerNotReady"]


def test_population_alert_waits_for_buyers_held_by_the_other_workers(rules) -> None:
    """In a new or idle shop no worker holds a buyer, so every one counts 0 elsewhere, rightly:
    the alert must compare with the buyers the others hold, the customers past the stage of
    one without a purchase."""
    (expr,) = [rule["expr"] for rule in rules if rule["alert"] == "PopulationNotShared"]
    engine = Engine(EngineConfig())
    engine.process(interaction("browser", 1), 0, EMITTED)
    engine.process(purchase("buyer", 1), 0, EMITTED)
    stage = engine.profiles.get("browser").lifecycle_stage
    assert engine.profiles.get("buyer").lifecycle_stage != stage
    held = re.escape(f'segmentation_customers_by_lifecycle_stage{{stage!="{stage}"}}')
    assert "segmentation_buyers_elsewhere == 0" in expr
    # The cluster's buyers less the worker's own.
    elsewhere = rf"scalar\(sum\({held}\)\)\s*-\s*sum by \(instance\) \({held}\)"
    assert re.search(rf"and on\(instance\)\s*\(\s*{elsewhere}\s*\)\s*>\s*0", expr), expr


PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool (from Prometheus) is not on the PATH")
def test_alert_rules_pass_their_promtool_unit_tests() -> None:
    tests = DEPLOY / "prometheus" / "alerts.test.yml"
    assert PROMTOOL is not None
    done = subprocess.run(
        [PROMTOOL, "test", "rules", str(tests)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_promtool_unit_tests_run_the_deployed_rules(rules) -> None:
    tests = yaml.safe_load((DEPLOY / "prometheus" / "alerts.test.yml").read_text())
    assert tests["rule_files"] == ["alerts.yml"]
    tested = {t["alertname"] for case in tests["tests"] for t in case["alert_rule_test"]}
    assert tested <= {rule["alert"] for rule in rules}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads((DEPLOY / "grafana" / "dashboards" / "segmentation.json").read_text())


def test_dashboard_queries_use_exposed_metrics_and_labels(dashboard) -> None:
    series = exposed_series()
    datasources = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"]
    uids = {source["uid"] for source in datasources}
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
    for panel in panels:
        assert panel["datasource"]["uid"] in uids, panel["title"]
        assert panel["targets"], panel["title"]
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        for target in panel["targets"]:
            available = check_expression(target["expr"], series)
            for label in re.findall(r"\{\{\s*(\w+)\s*\}\}", target.get("legendFormat", "")):
                assert label in available, f"{panel['title']}: legend uses missing {label!r}"


def starts_as_nan() -> set[str]:
    """Series a worker exposes as NaN until it knows better (the churn model's scores)."""
    metrics = Metrics(CollectorRegistry())
    return {
        sample.name
        for family in metrics.registry.collect()
        for sample in family.samples
        if math.isnan(sample.value)
    }


def test_sums_and_averages_leave_out_workers_that_report_nan(dashboard, rules) -> None:
    """sum and avg propagate NaN: one worker whose churn model has no labelled snapshot yet
    (a new pod, for a whole churn horizon in live mode) would blank the cluster's figure.
    Filter first, e.g. ``avg(metric >= 0)``; min and max skip NaN by themselves."""
    names = starts_as_nan()
    assert "segmentation_churn_model_roc_auc" in names
    expressions = [rule["expr"] for rule in rules]
    expressions += [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    for expr in expressions:
        for name in names:
            grouping = r"(?:(?:by|without)\s*\([^)]*\)\s*)?"
            selector = r"(?:\{[^}]*\}\s*)?"
            raw = rf"\b(?:sum|avg)\s*{grouping}\(\s*{name}\s*{selector}\)"
            assert not re.search(raw, expr), f"NaN of one worker blanks: {expr}"


def test_dashboard_covers_what_operators_watch(dashboard) -> None:
    queries = " ".join(
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    )
    for name in (
        "segmentation_input_events_total",
        "segmentation_consumer_lag_messages",
        "segmentation_processing_seconds_bucket",
        "segmentation_segment_transitions_total",
        "segmentation_customers_by_lifecycle_stage",
        "segmentation_customers_by_churn_band",
        "segmentation_dead_letters_total",
    ):
        assert name in queries, f"no panel shows {name}"


# -- metric helpers the alerts depend on ---------------------------------------------------


def test_lag_of_revoked_partitions_disappears() -> None:
    """A stale series after a rebalance would keep ConsumerLagGrowing firing forever."""
    metrics = Metrics(CollectorRegistry())
    metrics.set_lag({("customer.purchases", 0): (50, 2.0), ("customer.purchases", 1): (7, 1.0)})
    metrics.set_lag({("customer.purchases", 1): (3, 0.5)})
    value = metrics.registry.get_sample_value
    labels = {"topic": "customer.purchases"}
    assert value("segmentation_consumer_lag_messages", {**labels, "partition": "0"}) is None
    assert value("segmentation_consumer_lag_messages", {**labels, "partition": "1"}) == 3
    assert value("segmentation_consumer_lag_seconds", {**labels, "partition": "1"}) == 0.5
    metrics.set_watermark_delays({2: 10.0})
    metrics.set_watermark_delays({3: 1.0})
    assert value("segmentation_watermark_delay_seconds", {"partition": "2"}) is None
    assert value("segmentation_watermark_delay_seconds", {"partition": "3"}) == 1.0


def test_distribution_gauges_drop_emptied_values_to_zero() -> None:
    metrics = Metrics(CollectorRegistry())
    metrics.set_lifecycle_counts({"declining": 4, "mature": 2})
    metrics.set_lifecycle_counts({"mature": 6})
    value = metrics.registry.get_sample_value
    assert value("segmentation_customers_by_lifecycle_stage", {"stage": "declining"}) == 0
    assert value("segmentation_customers_by_lifecycle_stage", {"stage": "mature"}) == 6
    metrics.set_churn_band_counts({"high": 1})
    assert value("segmentation_customers_by_churn_band", {"band": "high"}) == 1
    assert value("segmentation_customers_by_churn_band", {"band": "low"}) == 0


def test_outputs_are_counted_by_dimension_and_flow() -> None:
    metrics = Metrics(CollectorRegistry())
    change = SegmentChange.model_validate(
        {
            "event_id": "x1",
            "customer_id": "c1",
            "ts": "2024-01-01T00:00:00Z",
            "emitted_at": "2024-01-01T00:00:01Z",
            "dimension": "lifecycle_stage",
            "from": None,
            "to": "declining",
            "recency_days": 40.0,
            "frequency": 2,
            "monetary": 30.0,
            "r_score": 2,
            "f_score": 3,
            "m_score": 2,
            "reason": "overdue",
        }
    )
    metrics.output_written("customer.segment-changes", change)
    value = metrics.registry.get_sample_value
    flow = {"dimension": "lifecycle_stage", "from_value": "none", "to_value": "declining"}
    assert value("segmentation_segment_transitions_total", flow) == 1
    assert (
        value(
            "segmentation_output_events_total",
            {"topic": "customer.segment-changes", "dimension": "lifecycle_stage"},
        )
        == 1
    )
    risk = ChurnRisk(
        event_id="x2",
        customer_id="c1",
        ts=change.ts,
        emitted_at=change.emitted_at,
        probability=0.7,
        band="high",
        previous_band="medium",
        horizon_days=90,
        model_version="1",
        top_features=[],
    )
    metrics.output_written("customer.churn-risk", risk)
    assert (
        value(
            "segmentation_output_events_total",
            {"topic": "customer.churn-risk", "dimension": "churn_risk"},
        )
        == 1
    )
    with pytest.raises(ValueError, match="unknown dead-letter reason"):
        metrics.dead_lettered("typo")
    metrics.dead_lettered("json")
    assert value("segmentation_dead_letters_total", {"reason": "json"}) == 1
