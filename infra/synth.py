"""Synthesize the aws profile: `chalice package` merged with infra/resources.yaml, plus the few
things a static merge template cannot say.

    python -m infra.synth --out dist/infra [--stage prod] [--region eu-west-1]

The output folder holds:
    template.yaml   the SAM template for `aws cloudformation package` and `deploy`
    deployment.zip  the API Lambda's code: app.py, chalicelib/, the dependencies
    synth.json      what was made: functions, routes and their authorization, package sizes,
                    requirements missing from the zip

This runs `chalice package --pkg-format cloudformation --merge-template infra/resources.yaml`
in-process, with four adjustments made here and nowhere else:

1. `@app.on_s3_event`: Chalice's CloudFormation packager refuses it (it cannot change the
   notifications of a bucket outside the template). Our mail bucket *is* in the template, so
   resources.yaml declares the notification itself; the packager is told to skip the
   subscription, and synth checks that resources.yaml wires the same prefix, events and
   function as the decorator in app.py (and that the SES rule writes under that prefix).
2. The Lambda runtime. Chalice takes it from the Python running Chalice (3.11 here). The
   python3.11 runtime is Amazon Linux 2 (glibc 2.26): no numpy>=2.3 and no onnxruntime>=1.17
   wheel exists for it, and Chalice then leaves those packages out with a mere warning.
   We target python3.12 (Amazon Linux 2023, glibc 2.34) and have pip fetch cp312 wheels
   (Chalice passes `--abi` to `pip download` but not `--python-version`).
3. The authorizer. The routes in app.py carry no Chalice authorizer (the same code serves the
   embedded profile), so the Cognito authorizer goes on every route whose RouteSpec says
   auth=True; HR and SCIM routes require the `relais/hr-sync` scope (access tokens of the HR
   sync client). A route unknown to the RouteTable gets the authorizer too (deny by default).
4. Alarms: one error-rate alarm per Lambda function, so a new `@app.schedule` gets one.

And the zip is trimmed of what the API never loads (PRUNE below: the AWS SDK the runtime
provides, gRPC/protobuf that opensearch-py requires but never imports, the Hugging Face hub
client tokenizers requires only for `from_pretrained`, test folders): 60+ MB of a 250 MB limit.
A test scans the kept code for imports of what was left out.

Dependencies built for one requirements.txt are cached in .cache/infra/ (Chalice's own cache is
keyed on the app's code as well, so each edit would rebuild them: minutes, with network).
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import importlib
import json
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
MERGE_TEMPLATE = ROOT / "infra" / "resources.yaml"
CACHE = Path(os.environ.get("RELAIS_INFRA_CACHE") or ROOT / ".cache" / "infra")
DEFAULT_RUNTIME = "python3.12"
DEFAULT_STAGE = "prod"
LAMBDA_UNZIPPED_LIMIT = 262_144_000  # 250 MB: code + layers of a zip-packaged function
MODEL_PREFIX = "chalicelib/model/"

AUTHORIZER = "RelaisCognito"
HR_SCOPE = "relais/hr-sync"
SCOPED_TAGS = frozenset({"hr", "scim"})  # routes for HR systems: client-credentials tokens
CORS_HEADERS = "'Authorization,Content-Type,X-Amz-Date,X-Amz-Security-Token,X-Api-Key'"


class SynthError(RuntimeError):
    """The template or package cannot be made as asked."""


# Chalice, adjusted ---------------------------------------------------------------------------
@contextlib.contextmanager
def adjusted_chalice(runtime: str, notifications: list):
    """Patch Chalice for one packaging run (see the module docstring), then restore it."""
    from chalice import __version__ as chalice_version
    from chalice.config import Config
    from chalice.deploy import packager
    from chalice.package import SAMTemplateGenerator

    def record_s3_subscription(self, resource, template):
        notifications.append(resource)

    original_build = packager.BaseLambdaDeploymentPackager._build_python_dependencies

    def cached_build(self, python_version, requirements_filepath, site_packages_dir):
        requirements = Path(requirements_filepath)
        digest = hashlib.sha256()
        for part in (requirements.read_bytes() if requirements.exists() else b"",
                     python_version.encode(), self._architecture.encode(),
                     chalice_version.encode()):
            digest.update(part + b"\0")
        entry = CACHE / f"site-packages-{python_version}-{digest.hexdigest()[:24]}"
        if entry.is_dir():
            shutil.copytree(entry, site_packages_dir, dirs_exist_ok=True)
            return
        original_build(self, python_version, requirements_filepath, site_packages_dir)
        if requirements.exists() and not missing_requirements(
                requirement_names(requirements), installed_in_directory(Path(site_packages_dir))):
            CACHE.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(dir=CACHE, prefix=".staging-"))
            shutil.copytree(site_packages_dir, staging, dirs_exist_ok=True)
            try:
                staging.rename(entry)
            except OSError:  # another run cached it meanwhile
                shutil.rmtree(staging, ignore_errors=True)
            # ~240 MB each: keep this one and the one before it
            entries = sorted(CACHE.glob("site-packages-*"), key=lambda p: p.stat().st_mtime)
            for old in entries[:-2]:
                shutil.rmtree(old, ignore_errors=True)

    original_download = packager.PipRunner.download_manylinux_wheels

    def download_for_runtime(self, abi, packages, directory, platforms=None):
        # Chalice passes --abi but not --python-version, so pip matches wheels against the
        # Python running Chalice (cp311) and finds no cp312 wheel; it then builds sdists.
        execute = self._execute

        def with_version(command, args, *rest, **kw):
            if command == "download" and "--abi" in args:
                args = ["--python-version", abi[2] + "." + abi[3:], *args]
            return execute(command, args, *rest, **kw)

        self._execute = with_version
        try:
            return original_download(self, abi, packages, directory, platforms)
        finally:
            del self._execute

    saved = (Config.lambda_python_version, SAMTemplateGenerator._generate_s3bucketnotification)
    Config.lambda_python_version = property(lambda self: runtime)
    SAMTemplateGenerator._generate_s3bucketnotification = record_s3_subscription
    packager.BaseLambdaDeploymentPackager._build_python_dependencies = cached_build
    packager.PipRunner.download_manylinux_wheels = download_for_runtime
    try:
        yield
    finally:
        Config.lambda_python_version, SAMTemplateGenerator._generate_s3bucketnotification = saved
        packager.BaseLambdaDeploymentPackager._build_python_dependencies = original_build
        packager.PipRunner.download_manylinux_wheels = original_download


def chalice_package(out: Path, stage: str, runtime: str) -> tuple[dict, list]:
    """Run `chalice package` (merge template included) into `out`; return the template and the
    S3 subscriptions Chalice was asked for."""
    from chalice.cli import cli

    if out.exists():
        shutil.rmtree(out)
    notifications: list = []
    cwd = os.getcwd()
    try:
        with adjusted_chalice(runtime, notifications):
            cli.main(args=["--project-dir", str(ROOT), "package", "--pkg-format",
                           "cloudformation", "--template-format", "yaml", "--stage", stage,
                           "--merge-template", str(MERGE_TEMPLATE), str(out)],
                     obj={}, standalone_mode=False)
    finally:
        os.chdir(cwd)
    template = yaml.safe_load((out / "sam.yaml").read_text())
    prune_chalice_deployments(runtime)
    return template, notifications


def prune_chalice_deployments(runtime: str) -> None:
    """Chalice keeps one zip per version of the app code; keep the newest for the runtime."""
    folder = ROOT / ".chalice" / "deployments"
    zips = sorted(folder.glob(f"*-{runtime}*.zip"), key=lambda p: p.stat().st_mtime)
    for old in zips[:-1]:
        old.unlink(missing_ok=True)


# Trimming the zip -------------------------------------------------------------------------------
RUNTIME_PROVIDED = "the Lambda Python runtime provides the AWS SDK"
NEVER_IMPORTED_GRPC = "required by opensearch-py>=3 (opensearch-protobufs), never imported by it"
NEVER_IMPORTED_HUB = ("required by tokenizers for Tokenizer.from_pretrained only; the ONNX "
                      "embedder uses Tokenizer.from_file")
PRUNE = {  # distribution -> why deployment.zip goes without it
    "boto3": RUNTIME_PROVIDED,
    "botocore": RUNTIME_PROVIDED,
    "s3transfer": RUNTIME_PROVIDED,
    "grpcio": NEVER_IMPORTED_GRPC,
    "protobuf": NEVER_IMPORTED_GRPC,
    "opensearch-protobufs": NEVER_IMPORTED_GRPC,
    "huggingface-hub": NEVER_IMPORTED_HUB,
    "hf-xet": NEVER_IMPORTED_HUB,
}
# Modules of the pruned distributions that nothing kept may import (the SDK aside).
PRUNED_MODULES = ("grpc", "google.protobuf", "opensearch.protobufs", "huggingface_hub", "hf_xet")
APP_PATHS = ("app.py", "chalicelib/")


def _record_files(archive: zipfile.ZipFile, dist_info: str) -> set[str]:
    try:
        record = archive.read(f"{dist_info}/RECORD").decode()
    except KeyError:
        return {n for n in archive.namelist() if n.startswith(dist_info + "/")}
    files = {line.split(",", 1)[0] for line in record.splitlines() if line.strip()}
    return files | {f"{dist_info}/RECORD"}


def prune_package(zip_path: Path) -> dict:
    """Rewrite deployment.zip without the PRUNE distributions and third-party test folders;
    return the bytes (unzipped) left out, per distribution."""
    removed: dict[str, int] = {}
    with zipfile.ZipFile(zip_path) as archive:
        infos = archive.infolist()
        drop: dict[str, str] = {}
        for info in infos:
            top = info.filename.split("/", 1)[0]
            if top.endswith(".dist-info") and info.filename == f"{top}/RECORD":
                dist = _dist_name(top)
                if dist in PRUNE:
                    for name in _record_files(archive, top):
                        drop[name] = dist
        for info in infos:
            parts = info.filename.split("/")
            if (info.filename not in drop and not info.filename.startswith(APP_PATHS)
                    and "tests" in parts[1:-1]):
                drop[info.filename] = "test folders"
        if not drop:
            return removed
        trimmed = zip_path.with_suffix(".trimmed.zip")
        with zipfile.ZipFile(trimmed, "w", zipfile.ZIP_DEFLATED) as out:
            for info in infos:
                if info.filename in drop:
                    removed[drop[info.filename]] = (removed.get(drop[info.filename], 0)
                                                    + info.file_size)
                    continue
                out.writestr(info, archive.read(info), compress_type=zipfile.ZIP_DEFLATED)
    trimmed.replace(zip_path)
    return removed


# Requirements and package size -----------------------------------------------------------------
def _canonical(name: str) -> str:
    from packaging.utils import canonicalize_name
    return canonicalize_name(name)


def requirement_names(path: Path) -> list[str]:
    from packaging.requirements import Requirement

    names = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.append(Requirement(line).name)
    return names


def _dist_name(dist_info: str) -> str:
    return _canonical(dist_info.rsplit(".", 1)[0].rsplit("-", 1)[0])


def installed_in_directory(folder: Path) -> set[str]:
    return {_dist_name(p.name) for p in folder.glob("*.dist-info")}


def installed_in_zip(names: list[str]) -> set[str]:
    return {_dist_name(n.split("/", 1)[0]) for n in names
            if n.split("/", 1)[0].endswith(".dist-info")}


def missing_requirements(required: list[str], installed: set[str]) -> list[str]:
    return [name for name in required if _canonical(name) not in installed]


def package_report(zip_path: Path, requirements: Path, pruned: dict | None = None) -> dict:
    """Sizes of the deployment zip, unzipped (what Lambda's 250 MB limit counts)."""
    with zipfile.ZipFile(zip_path) as archive:
        infos = archive.infolist()
    unzipped = sum(i.file_size for i in infos)
    model = sum(i.file_size for i in infos if i.filename.startswith(MODEL_PREFIX))
    names = [i.filename for i in infos]
    return {
        "zipped_bytes": zip_path.stat().st_size,
        "unzipped_bytes": unzipped,
        "model_bytes": model,
        "unzipped_without_model_bytes": unzipped - model,
        "limit_bytes": LAMBDA_UNZIPPED_LIMIT,
        "model_included": model > 0,
        "pruned_bytes": dict(sorted((pruned or {}).items())),
        "missing_requirements": missing_requirements(requirement_names(requirements),
                                                     installed_in_zip(names) | set(PRUNE)),
    }


# Template post-processing ------------------------------------------------------------------------
def route_specs() -> list:
    """The RouteTable's specs (path, method, tag, auth) of the app Chalice just loaded."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return list(importlib.import_module("app").api.specs)


def add_authorizer(template: dict, specs: list) -> list[dict]:
    """Put the Cognito authorizer on the authenticated routes; return what each route got."""
    body = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    body.setdefault("securityDefinitions", {})[AUTHORIZER] = {
        "type": "apiKey", "name": "Authorization", "in": "header",
        "x-amazon-apigateway-authtype": "cognito_user_pools",
        "x-amazon-apigateway-authorizer": {
            "type": "cognito_user_pools",
            "providerARNs": [{"Fn::GetAtt": ["UserPool", "Arn"]}],
        },
    }
    by_route = {(s.path, s.method.lower()): s for s in specs}
    routes = []
    for path, operations in body["paths"].items():
        for method, operation in operations.items():
            if method == "options":  # CORS preflight: API Gateway answers it, no token
                continue
            spec = by_route.get((path, method))
            auth = True if spec is None else spec.auth
            scopes = [HR_SCOPE] if spec is not None and spec.tag in SCOPED_TAGS else []
            if auth:
                operation["security"] = [{AUTHORIZER: scopes}]
            routes.append({"path": path, "method": method.upper(), "auth": auth,
                           "scopes": scopes if auth else [], "known": spec is not None})
    body["x-amazon-apigateway-gateway-responses"] = gateway_responses()
    return routes


def gateway_responses() -> dict:
    """Errors API Gateway answers itself (no or bad token, throttled, no such route) in
    Relais's error shape, with CORS headers so the widget can read them."""
    cors = {"gatewayresponse.header.Access-Control-Allow-Origin": "'*'",
            "gatewayresponse.header.Access-Control-Allow-Headers": CORS_HEADERS}

    def body(code: str) -> dict:
        return {"application/json": '{"error": {"code": "%s", "message": '
                                    '$context.error.messageString, "details": []}}' % code}

    return {
        "UNAUTHORIZED": {"statusCode": 401, "responseTemplates": body("unauthorized"),
                         "responseParameters": {
                             **cors, "gatewayresponse.header.WWW-Authenticate":
                                 "'Bearer realm=\"relais\"'"}},
        "ACCESS_DENIED": {"statusCode": 403, "responseTemplates": body("forbidden"),
                          "responseParameters": cors},
        "THROTTLED": {"statusCode": 429, "responseTemplates": body("too_many_requests"),
                      "responseParameters": cors},
        # What API Gateway says of a path (or a path's method) no route has: no route here
        # is signed with IAM, so a missing signature can mean nothing else.
        "MISSING_AUTHENTICATION_TOKEN": {
            "statusCode": 404, "responseParameters": cors, "responseTemplates": {
                "application/json": '{"error": {"code": "not_found", "message": '
                                    '"no such path, or not with this method", '
                                    '"details": []}}'}},
        "DEFAULT_4XX": {"responseTemplates": body("bad_request"), "responseParameters": cors},
        "DEFAULT_5XX": {"responseTemplates": body("internal_error"), "responseParameters": cors},
    }


def _is_getatt_arn(value, logical_id: str) -> bool:
    if not isinstance(value, dict) or "Fn::GetAtt" not in value:
        return False
    target = value["Fn::GetAtt"]
    if isinstance(target, str):
        target = target.split(".", 1)
    return list(target) == [logical_id, "Arn"]


def check_mail_wiring(template: dict, notifications: list) -> list[dict]:
    """Each `@app.on_s3_event` must be wired by resources.yaml: a bucket notification with the
    same prefix, suffix and events to the same function, and a receipt rule writing there."""
    from chalice.utils import to_cfn_resource_name

    resources = template["Resources"]
    wired = []
    for sub in notifications:
        function = to_cfn_resource_name(sub.lambda_function.resource_name)
        if function not in resources:
            raise SynthError(f"no function {function} in the template")
        found = set()
        for name, resource in resources.items():
            if resource.get("Type") != "AWS::S3::Bucket":
                continue
            config = resource.get("Properties", {}).get("NotificationConfiguration", {})
            for item in config.get("LambdaConfigurations", []):
                if not _is_getatt_arn(item.get("Function"), function):
                    continue
                rules = {r["Name"].lower(): r["Value"] for r in
                         item.get("Filter", {}).get("S3Key", {}).get("Rules", [])}
                if rules.get("prefix") == sub.prefix and rules.get("suffix") == sub.suffix:
                    found.add((name, item["Event"]))
        missing = [e for e in sub.events if not any(event == e for _, event in found)]
        if missing:
            raise SynthError(
                f"app.py subscribes {function} to {missing} under prefix {sub.prefix!r}, but no "
                f"bucket in infra/resources.yaml sends those to it: add a LambdaConfiguration")
        buckets = sorted({name for name, _ in found})
        prefixes = [action["S3Action"].get("ObjectKeyPrefix")
                    for r in resources.values() if r.get("Type") == "AWS::SES::ReceiptRule"
                    for action in r["Properties"]["Rule"].get("Actions", [])
                    if "S3Action" in action
                    and action["S3Action"].get("BucketName") in ({"Ref": b} for b in buckets)]
        if sub.prefix and prefixes and any(p != sub.prefix for p in prefixes):
            raise SynthError(f"the SES rule writes under {prefixes}, app.py reads {sub.prefix!r}")
        wired.append({"function": function, "buckets": buckets, "prefix": sub.prefix,
                      "events": list(sub.events)})
    return wired


FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")


def add_error_alarms(template: dict) -> list[str]:
    """An error-rate alarm (metric math: errors / invocations) for every function."""
    resources = template["Resources"]
    functions = sorted(n for n, r in resources.items() if r.get("Type") in FUNCTION_TYPES)
    for name in functions:
        def metric(metric_id: str, metric_name: str) -> dict:
            return {"Id": metric_id, "ReturnData": False, "MetricStat": {
                "Metric": {"Namespace": "AWS/Lambda", "MetricName": metric_name,
                           "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": name}}]},
                "Period": 300, "Stat": "Sum"}}

        resources.setdefault(f"{name}ErrorRateAlarm", {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": {"Fn::Sub": "${AWS::StackName}-%s-error-rate" % name},
                "AlarmDescription": f"More than ErrorRateThresholdPercent % of the invocations "
                                    f"of {name} failed, two 5-minute periods in a row.",
                "Metrics": [metric("errors", "Errors"), metric("invocations", "Invocations"),
                            {"Id": "rate", "Label": "error rate (%)", "ReturnData": True,
                             "Expression": "IF(invocations > 0, 100 * errors / invocations, 0)"}],
                "ComparisonOperator": "GreaterThanThreshold",
                "Threshold": {"Ref": "ErrorRateThresholdPercent"},
                "EvaluationPeriods": 2,
                "DatapointsToAlarm": 2,
                "TreatMissingData": "notBreaching",
                "AlarmActions": [{"Ref": "AlarmTopic"}],
                "OKActions": [{"Ref": "AlarmTopic"}],
            },
        })
    return functions


def fix_log_group_names(template: dict) -> None:
    """Chalice 1.34 names the API handler's log group /aws/lambda/${ApiHandler}, but the function
    is APIHandler: point each log group at the function it means. Logs go with the stack."""
    resources = template["Resources"]
    by_lower = {name.lower(): name for name in resources}
    for resource in resources.values():
        if resource.get("Type") != "AWS::Logs::LogGroup":
            continue
        resource.setdefault("DeletionPolicy", "Delete")  # say so (cfn-lint I3011)
        resource.setdefault("UpdateReplacePolicy", "Delete")
        name = resource.get("Properties", {}).get("LogGroupName")
        if not isinstance(name, dict) or not isinstance(name.get("Fn::Sub"), str):
            continue
        text = name["Fn::Sub"]
        if text.startswith("/aws/lambda/${") and text.endswith("}"):
            target = text[len("/aws/lambda/${"):-1]
            if target not in resources and target.lower() in by_lower:
                name["Fn::Sub"] = "/aws/lambda/${%s}" % by_lower[target.lower()]


class _Dumper(yaml.SafeDumper):
    """Plain YAML: no anchors or aliases (Chalice shares one trust policy between roles)."""

    def ignore_aliases(self, data):
        return True


PLACEHOLDER_SID = "ReplacedByInfraResourcesYaml"  # .chalice/policy-placeholder.json


def roles_left_with_placeholder(template: dict) -> list[str]:
    """Roles Chalice made whose deny-all placeholder policy resources.yaml did not replace."""
    left = []
    for name, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::IAM::Role":
            continue
        for policy in resource.get("Properties", {}).get("Policies", []):
            statements = policy.get("PolicyDocument", {}).get("Statement", [])
            if any(s.get("Sid") == PLACEHOLDER_SID for s in statements):
                left.append(name)
    return left


def set_stage_default(template: dict, stage: str) -> None:
    template.setdefault("Parameters", {}).setdefault("Stage", {})["Default"] = stage


# The whole synthesis ------------------------------------------------------------------------------
def synthesize(out: Path, stage: str = DEFAULT_STAGE, runtime: str = DEFAULT_RUNTIME,
               region: str | None = None, prune: bool = True) -> dict:
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if region:
        os.environ["AWS_DEFAULT_REGION"] = region
    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")  # Chalice asks boto for a region
    raw = out / "chalice"
    template, notifications = chalice_package(raw, stage, runtime)
    template = copy.deepcopy(template)
    fix_log_group_names(template)
    routes = add_authorizer(template, route_specs())
    mail = check_mail_wiring(template, notifications)
    functions = add_error_alarms(template)
    placeholder_roles = roles_left_with_placeholder(template)
    set_stage_default(template, stage)
    (out / "template.yaml").write_text(
        "# Synthesized by `python -m infra.synth`: do not edit; edit infra/resources.yaml.\n"
        + yaml.dump(template, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100))
    shutil.move(str(raw / "deployment.zip"), out / "deployment.zip")
    shutil.rmtree(raw)
    pruned = prune_package(out / "deployment.zip") if prune else {}
    report = {
        "stage": stage,
        "runtime": runtime,
        "template": str(out / "template.yaml"),
        "deployment_zip": str(out / "deployment.zip"),
        "functions": functions,
        "routes": routes,
        "mail_subscriptions": mail,
        "roles_without_policy": placeholder_roles,
        "package": package_report(out / "deployment.zip", ROOT / "requirements.txt", pruned),
    }
    (out / "synth.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def problems(report: dict) -> list[str]:
    package = report["package"]
    found = []
    if package["missing_requirements"]:
        found.append("requirements missing from deployment.zip (no wheel for the Lambda "
                     f"runtime {report['runtime']}): {', '.join(package['missing_requirements'])}")
    if package["unzipped_bytes"] >= package["limit_bytes"]:
        found.append(f"deployment.zip unzips to {package['unzipped_bytes']:,} bytes, over "
                     f"Lambda's {package['limit_bytes']:,}")
    if report["roles_without_policy"]:
        found.append("roles with no policy in infra/resources.yaml (their functions can do "
                     "nothing; give each `ManagedPolicyArns: [!Ref AppCorePolicy]` and "
                     "`Policies`): " + ", ".join(report["roles_without_policy"]))
    unknown = [f"{r['method']} {r['path']}" for r in report["routes"] if not r["known"]]
    if unknown:
        found.append("routes not declared through the RouteTable (authorizer put on them): "
                     + ", ".join(unknown))
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.synth", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="folder to write into")
    parser.add_argument("--stage", default=DEFAULT_STAGE, help="Chalice stage (default prod)")
    parser.add_argument("--runtime", default=DEFAULT_RUNTIME, help="Lambda Python runtime")
    parser.add_argument("--region", help="AWS region (default: AWS_DEFAULT_REGION or eu-west-1)")
    parser.add_argument("--no-prune", action="store_true",
                        help="keep the whole deployment.zip (see PRUNE in infra/synth.py)")
    parser.add_argument("--allow-incomplete", action="store_true",
                        help="exit 0 even when a requirement is missing or the zip is too big")
    args = parser.parse_args(argv)
    try:
        report = synthesize(args.out, args.stage, args.runtime, args.region,
                            prune=not args.no_prune)
    except SynthError as error:
        print(f"synth: {error}", file=sys.stderr)
        return 2
    package = report["package"]
    mb = 1_000_000
    print(f"synth: {report['template']}")
    print(f"synth: deployment.zip {package['zipped_bytes'] / mb:.1f} MB zipped, "
          f"{package['unzipped_bytes'] / mb:.1f} MB unzipped "
          f"({package['model_bytes'] / mb:.1f} MB of it the ONNX model; limit "
          f"{package['limit_bytes'] / mb:.1f} MB; "
          f"{sum(package['pruned_bytes'].values()) / mb:.1f} MB pruned)")
    found = problems(report)
    for problem in found:
        print(f"synth: {problem}", file=sys.stderr)
    return 1 if found and not args.allow_incomplete else 0


if __name__ == "__main__":
    sys.exit(main())
