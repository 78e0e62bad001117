"""Kubernetes manifests (deploy/k8s), checked offline the way CI checks them:

* ``kubectl kustomize`` renders the base and both overlays;
* ``kubernetes-validate --strict`` validates every rendered object against the schemas of the
  oldest and newest Kubernetes versions we state (``K8S_VERSIONS``);
* ``checkov`` (``--skip-download``) reports no failed check; every skip carries its reason;
* structural rules the tools do not know: non-root, read-only root filesystem, requests and limits,
  secrets only by reference (and documented), probes, selectors that select, copies in sync.

The checkers live in .ops-venv (scripts/setup_ops.sh, run by scripts/test.sh).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from deploy_support import DEPLOY, REPO

K8S = DEPLOY / "k8s"
OVERLAYS = ("dev", "prod")
# Oldest and newest Kubernetes minor versions the manifests are validated against (docs say so).
K8S_VERSIONS = ("1.33.0", "1.37.0")
OPS_BIN = REPO / ".ops-venv" / "bin"
SECRET_NAME = "stockvision-secrets"
WORKLOADS = {"Deployment", "StatefulSet", "CronJob", "Job", "DaemonSet"}
# Per-resource checkov skips that are allowed, each explained in an annotation on the resource.
ALLOWED_RESOURCE_SKIPS = {"CKV_K8S_35", "CKV_K8S_38"}

kubectl = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(
    kubectl is None, reason="kubectl not installed (it bundles kustomize): apt-get install kubectl"
)


def _needs_ops_tool(name: str) -> Path:
    tool = OPS_BIN / name
    if not tool.exists():
        pytest.skip(
            f"{name} not installed: run `bash scripts/setup_ops.sh ops` (scripts/test.sh does)"
        )
    return tool


def _render(target: Path) -> str:
    assert kubectl is not None
    proc = subprocess.run(
        [kubectl, "kustomize", str(target)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, Path]:
    """overlay name -> file holding its rendered manifests."""
    if kubectl is None:
        pytest.skip("kubectl not installed (it bundles kustomize): apt-get install kubectl")
    out = tmp_path_factory.mktemp("k8s")
    files = {}
    for overlay in OVERLAYS:
        path = out / f"{overlay}.yaml"
        path.write_text(_render(K8S / "overlays" / overlay))
        files[overlay] = path
    return files


@pytest.fixture(scope="module")
def docs(rendered) -> dict[str, list[dict]]:
    return {
        name: [d for d in yaml.safe_load_all(p.read_text()) if d] for name, p in rendered.items()
    }


def _pod_spec(doc: dict) -> dict:
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return doc["spec"]["template"]["spec"]


def _pod_labels(doc: dict) -> dict:
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    return doc["spec"]["template"]["metadata"]["labels"]


def _find(docs: list[dict], kind: str, name: str) -> dict:
    hits = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(hits) == 1, f"{kind}/{name}: {len(hits)} found"
    return hits[0]


# --------------------------------------------------------------------------- render + schemas


@needs_kubectl
def test_base_builds_on_its_own():
    text = _render(K8S / "base")
    kinds = {d["kind"] for d in yaml.safe_load_all(text) if d}
    assert {"Deployment", "StatefulSet", "CronJob", "HorizontalPodAutoscaler"} <= kinds


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_manifests_validate_strictly(rendered, version):
    tool = _needs_ops_tool("kubernetes-validate")
    proc = subprocess.run(
        [str(tool), "--strict", "--quiet", "-k", version, *map(str, rendered.values())],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]


def test_strict_validation_rejects_an_unknown_field(rendered, tmp_path):
    """The validator really looks: a misspelt field fails it."""
    tool = _needs_ops_tool("kubernetes-validate")
    text = rendered["dev"].read_text()
    assert "revisionHistoryLimit: 5" in text
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("revisionHistoryLimit: 5", "revisionHistoryLimt: 5", 1))
    proc = subprocess.run(
        [str(tool), "--strict", "--quiet", "-k", K8S_VERSIONS[0], str(bad)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "revisionHistoryLimt" in proc.stdout + proc.stderr


# --------------------------------------------------------------------------- checkov


def _checkov(path: Path) -> dict:
    tool = _needs_ops_tool("checkov")
    proc = subprocess.run(
        [str(tool), "--config-file", str(K8S / "checkov.yaml"), "-f", str(path), "-o", "json"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    report = json.loads(proc.stdout)
    report = report[0] if isinstance(report, list) else report
    return {"rc": proc.returncode, **report}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_checkov_reports_no_failed_check(rendered, overlay):
    report = _checkov(rendered[overlay])
    summary = report["summary"]
    failed = [
        f"{c['check_id']} {c['check_name']} on {c['resource']}"
        for c in report["results"].get("failed_checks", [])
    ]
    assert failed == [] and report["rc"] == 0, "\n".join(failed)
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 500, summary  # it did check the resources


def test_checkov_fails_a_writable_root_filesystem(rendered, tmp_path):
    """checkov with our configuration still catches what it is there for."""
    text = rendered["dev"].read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false"))
    report = _checkov(bad)
    ids = {c["check_id"] for c in report["results"].get("failed_checks", [])}
    assert "CKV_K8S_22" in ids and report["rc"] != 0


def test_every_checkov_skip_is_explained(docs):
    config = yaml.safe_load((K8S / "checkov.yaml").read_text())
    raw = (K8S / "checkov.yaml").read_text()
    for check in config["skip-check"]:
        block = raw.split(f"- {check}")[0].rsplit("skip-check:", 1)[-1]
        assert re.search(r"#\s*\S.{40,}", block), f"{check} skipped without a reason comment"
    for doc in docs["prod"] + docs["dev"]:
        for key, value in (doc["metadata"].get("annotations") or {}).items():
            if not key.startswith("checkov.io/skip"):
                continue
            check, _, reason = value.partition("=")
            assert check in ALLOWED_RESOURCE_SKIPS, f"{doc['metadata']['name']}: {check}"
            assert len(reason.split()) >= 8, f"{doc['metadata']['name']}: {check} needs a reason"


# --------------------------------------------------------------------------- structural rules


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_is_locked_down_and_sized(docs, overlay):
    for doc in docs[overlay]:
        if doc["kind"] not in WORKLOADS:
            continue
        spec = _pod_spec(doc)
        name = doc["metadata"]["name"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        for c in spec.get("initContainers", []) + spec["containers"]:
            sc = c["securityContext"]
            where = f"{name}/{c['name']}"
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert sc.get("runAsUser", spec["securityContext"].get("runAsUser", 0)) > 0, where
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][part]), f"{where} {part}"
            assert not c["image"].endswith(":latest") and ":" in c["image"], where


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_only_by_reference_and_documented(docs, overlay):
    assert not [d for d in docs[overlay] if d["kind"] == "Secret"], "a Secret in the manifests"
    text = json.dumps(docs[overlay])
    refs = re.findall(r'"secretKeyRef": \{"key": "([^"]+)", "name": "([^"]+)"', text)
    assert refs
    assert {name for _, name in refs} == {SECRET_NAME}
    guide = (REPO / "docs" / "deployment.md").read_text()
    undocumented = {key for key, _ in refs if f"`{key}`" not in guide}
    assert not undocumented, f"document these Secret keys in docs/deployment.md: {undocumented}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_api_is_probed_scaled_and_protected(docs, overlay):
    api = _find(docs[overlay], "Deployment", "stockvision-api")
    container = _pod_spec(api)["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    assert container["livenessProbe"]["httpGet"]["path"] in {"/health", "/ping"}
    hpa = _find(docs[overlay], "HorizontalPodAutoscaler", "stockvision-api")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "stockvision-api"
    }  # fmt: skip
    assert hpa["spec"]["minReplicas"] <= api["spec"]["replicas"] <= hpa["spec"]["maxReplicas"]
    pdb = _find(docs[overlay], "PodDisruptionBudget", "stockvision-api")
    labels = _pod_labels(api)
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    if "minAvailable" in pdb["spec"]:  # a PDB that can never be satisfied blocks every drain
        assert pdb["spec"]["minAvailable"] < hpa["spec"]["minReplicas"] or (
            hpa["spec"]["minReplicas"] > 1
        )
    annotations = api["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_select_pods_and_config_maps_exist(docs, overlay):
    pods = [_pod_labels(d) for d in docs[overlay] if d["kind"] in WORKLOADS]
    for svc in (d for d in docs[overlay] if d["kind"] == "Service"):
        sel = svc["spec"]["selector"]
        assert any(sel.items() <= labels.items() for labels in pods), svc["metadata"]["name"]
    config_maps = {d["metadata"]["name"] for d in docs[overlay] if d["kind"] == "ConfigMap"}
    claims = {d["metadata"]["name"] for d in docs[overlay] if d["kind"] == "PersistentVolumeClaim"}
    accounts = {d["metadata"]["name"] for d in docs[overlay] if d["kind"] == "ServiceAccount"}
    for doc in (d for d in docs[overlay] if d["kind"] in WORKLOADS):
        spec = _pod_spec(doc)
        assert spec["serviceAccountName"] in accounts
        for vol in spec.get("volumes", []):
            if "configMap" in vol:
                assert vol["configMap"]["name"] in config_maps, vol
            if "persistentVolumeClaim" in vol:
                assert vol["persistentVolumeClaim"]["claimName"] in claims, vol
        for c in spec["containers"]:
            for src in c.get("envFrom", []):
                assert src["configMapRef"]["name"] in config_maps


def test_overlays_differ_as_documented(docs):
    dev, prod = docs["dev"], docs["prod"]
    assert {d["metadata"].get("namespace") for d in dev if d["kind"] != "Namespace"} == {
        "stockvision-dev"
    }
    assert {d["metadata"].get("namespace") for d in prod if d["kind"] != "Namespace"} == {
        "stockvision"
    }
    # dev: in-cluster PostgreSQL, serial pipeline; prod: external PostgreSQL, Dask cluster.
    assert _find(dev, "StatefulSet", "postgres")
    assert not [d for d in prod if d["metadata"]["name"] == "postgres"]
    assert not [d for d in dev if d["metadata"]["name"].startswith("dask-")]
    _find(prod, "Deployment", "dask-scheduler")
    worker = _find(prod, "Deployment", "dask-worker")
    assert "tcp://dask-scheduler:8786" in _pod_spec(worker)["containers"][0]["args"]

    def pipeline_env(docs: list[dict]) -> dict:
        cron = _find(docs, "CronJob", "stockvision-pipeline")
        return {e["name"]: e.get("value") for e in _pod_spec(cron)["containers"][0]["env"]}

    assert pipeline_env(dev)["SV_ENGINE"] == "serial"
    assert pipeline_env(prod)["SV_ENGINE"] == "dask"
    assert pipeline_env(prod)["SV_DASK_ADDRESS"] == "tcp://dask-scheduler:8786"
    api_prod = _find(prod, "Deployment", "stockvision-api")
    assert _find(prod, "HorizontalPodAutoscaler", "stockvision-api")["spec"]["minReplicas"] >= 3
    assert api_prod["spec"]["template"]["spec"]["containers"][0]["image"].startswith("registry.")


def test_pipeline_cronjob_matches_the_airflow_schedule(docs):
    cron = _find(docs["prod"], "CronJob", "stockvision-pipeline")
    dag = (REPO / "dags" / "stock_prediction_pipeline.py").read_text()
    expr = re.search(r'CronTriggerTimetable\("([^"]+)"', dag).group(1)
    assert cron["spec"]["schedule"] == expr
    assert cron["spec"]["timeZone"] == "Asia/Ho_Chi_Minh"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert _pod_spec(cron)["containers"][0]["args"][:2] == ["pipeline", "run"]


def test_stream_worker_and_nats_jetstream(docs):
    nats = _find(docs["prod"], "StatefulSet", "nats")
    assert nats["spec"]["volumeClaimTemplates"]
    conf = (K8S / "base" / "files" / "nats" / "nats.conf").read_text()
    assert "jetstream" in conf and "store_dir: /data/jetstream" in conf
    worker = _find(docs["prod"], "Deployment", "stockvision-stream")
    assert _pod_spec(worker)["containers"][0]["args"][:2] == ["stream", "run"]


# --------------------------------------------------------------------------- copies in sync

COPIES = {
    "files/prometheus/alerts.yml": DEPLOY / "prometheus" / "alerts.yml",
    "files/grafana/datasources/prometheus.yml": DEPLOY / "grafana/provisioning/datasources/prometheus.yml",
    "files/grafana/dashboards.yml": DEPLOY / "grafana/provisioning/dashboards/dashboards.yml",
    "files/postgres/10-create-databases.sh": DEPLOY / "postgres/init/10-create-databases.sh",
}  # fmt: skip


@pytest.mark.parametrize("copy", sorted(COPIES))
def test_copies_equal_their_originals(copy):
    assert (K8S / "base" / copy).read_bytes() == COPIES[copy].read_bytes(), (
        f"cp {COPIES[copy].relative_to(REPO)} deploy/k8s/base/{copy}"
    )


def test_every_dashboard_is_shipped_to_kubernetes():
    originals = sorted(p.name for p in (DEPLOY / "grafana" / "dashboards").glob("*.json"))
    copies = sorted(p.name for p in (K8S / "base" / "files/grafana/dashboards").glob("*.json"))
    assert copies == originals
    for name in originals:
        a = (DEPLOY / "grafana" / "dashboards" / name).read_bytes()
        assert (K8S / "base" / "files/grafana/dashboards" / name).read_bytes() == a, name


def test_prometheus_config_keeps_the_alerting_job_names():
    """The alert rules select job="stockvision-api": the Kubernetes config must keep that job."""
    k8s = yaml.safe_load((K8S / "base/files/prometheus/prometheus.yml").read_text())
    compose = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert {j["job_name"] for j in compose["scrape_configs"]} <= {
        j["job_name"] for j in k8s["scrape_configs"]
    }
    assert k8s["rule_files"] == compose["rule_files"]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_accepts_the_kubernetes_prometheus_config(tmp_path):
    """promtool checks the rest of the file (relabel rules, rule files). Debian's promtool is built
    without Kubernetes service discovery, so kubernetes_sd_configs is swapped for a static target
    when this build does not know it."""
    config = yaml.safe_load((K8S / "base/files/prometheus/prometheus.yml").read_text())
    shutil.copy(K8S / "base/files/prometheus/alerts.yml", tmp_path / "alerts.yml")

    def check() -> subprocess.CompletedProcess[str]:
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        return subprocess.run(
            ["promtool", "check", "config", str(tmp_path / "prometheus.yml")],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    proc = check()
    if "kubernetes_sd_configs not found" in proc.stdout + proc.stderr:
        for job in config["scrape_configs"]:
            if job.pop("kubernetes_sd_configs", None) is not None:
                job["static_configs"] = [{"targets": ["pod:8000"]}]
        proc = check()
    assert proc.returncode == 0, proc.stdout + proc.stderr
