"""Deploy Relais's aws profile: one command, from synthesis to a running stack.

    infra/deploy --stage prod --region eu-west-1 --mail-domain ask.example.com \\
                 --model all-MiniLM-L6-v2 [--public-url URL] [--alarm-email ADDR] ...
    infra/deploy --dry-run --out dist/plan --stage prod --mail-domain ask.example.com

What a real run does, in order (docs/deploy.md explains each):
  1. relais-<stage>-bootstrap stack (infra/bootstrap.yaml): ECR repository, artifact bucket
  2. the ONNX model for the API Lambda (python -m indexer.export_onnx) if missing
  3. python -m infra.synth: chalice package + infra/resources.yaml -> template.yaml, zip
  4. docker build + push of the indexer image (indexer/Dockerfile), pinned by digest
  5. aws cloudformation package (uploads the API zip) and aws cloudformation deploy
  6. aws ses set-active-receipt-rule-set (the account's one active rule set)
  7. PublicUrl defaults to the API's URL: a second, parameter-only deploy sets it
`--dry-run` does step 3 only (no AWS, no Docker) and writes the parameters and the exact
commands of the other steps next to the template.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from infra.synth import ROOT, problems, synthesize

# SES receives mail in a subset of regions (checked against the SES developer guide, 2025):
# a region outside it is warned about, not refused (the list grows).
SES_RECEIVING_REGIONS = {"us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1",
                         "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1",
                         "eu-south-1", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
                         "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
                         "il-central-1", "me-south-1", "sa-east-1", "af-south-1"}
BUNDLED_MODELS = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
PLACEHOLDER_ACCOUNT = "ACCOUNT_ID"
ALLOWED_PARAMETERS = {  # template parameters settable with --param (the rest have options)
    "MailAllowedDomains", "AuthCallbackUrls", "ApiThrottleRate", "ApiThrottleBurst",
    "OpenSearchVolumeGiB", "IndexerMemoryMB", "IndexerBatchSize", "IndexerMaxRetries",
    "MailRetentionDays", "QuarantineRetentionDays", "ErrorRateThresholdPercent", "ProtectData",
    "UserPoolEmailViaSes", "WorkingDays", "Holidays", "TimeZone"}


class DeployError(RuntimeError):
    pass


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="infra/deploy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", required=True,
                        help="stage name: 2-12 lowercase letters/digits (names: relais-<stage>-*)")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION")
                        or os.environ.get("AWS_DEFAULT_REGION") or "eu-west-1")
    parser.add_argument("--mail-domain", required=True,
                        help="domain SES receives Relais mail for (a subdomain: ask.example.com)")
    parser.add_argument("--model", default="all-MiniLM-L6-v2",
                        help="sentence-transformers model of the indexer image and of the API's "
                             "ONNX export (default all-MiniLM-L6-v2, bundled, 384 dimensions: "
                             "the only one supported end to end today)")
    parser.add_argument("--public-url", default="",
                        help="what links in mails point to (default: the API's URL)")
    parser.add_argument("--alarm-email", default="", help="subscribe this address to alarms")
    parser.add_argument("--hosted-zone-id", default="",
                        help="Route 53 zone of the mail domain: MX and DKIM records are made")
    parser.add_argument("--api-domain", default="", help="custom domain of the API")
    parser.add_argument("--api-certificate-arn", default="", help="ACM certificate of it")
    parser.add_argument("--callback-url", action="append", default=[],
                        help="OAuth redirect URL of the widget (repeatable)")
    parser.add_argument("--opensearch-instance-type", default="t3.small.search")
    parser.add_argument("--opensearch-instance-count", type=int, default=1)
    parser.add_argument("--opensearch-zone-awareness", action="store_true",
                        help="two availability zones (needs an even instance count)")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="another template parameter: " + ", ".join(sorted(ALLOWED_PARAMETERS)))
    parser.add_argument("--indexer-image", default="",
                        help="use this pushed image (URI with @sha256 digest); skips docker")
    parser.add_argument("--stack-name", default="", help="default relais-<stage>")
    parser.add_argument("--profile", default="", help="AWS CLI profile")
    parser.add_argument("--keep-active-rule-set", action="store_true",
                        help="do not make the Relais receipt rule set the active one")
    parser.add_argument("--out", type=Path, default=None,
                        help="build folder (default dist/infra/<stage>)")
    parser.add_argument("--dry-run", action="store_true",
                        help="synthesize into --out and print the plan; touch nothing")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[a-z][a-z0-9]{1,11}", args.stage):
        parser.error("--stage: 2-12 lowercase letters or digits, starting with a letter")
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+",
                        args.mail_domain):
        parser.error("--mail-domain: a lowercase domain name such as ask.example.com")
    if bool(args.api_domain) != bool(args.api_certificate_arn):
        parser.error("--api-domain and --api-certificate-arn go together")
    if args.opensearch_zone_awareness and args.opensearch_instance_count % 2:
        parser.error("--opensearch-zone-awareness needs an even --opensearch-instance-count")
    for item in args.param:
        key, sep, _ = item.partition("=")
        if not sep or key not in ALLOWED_PARAMETERS:
            parser.error(f"--param {item!r}: KEY=VALUE with KEY one of "
                         + ", ".join(sorted(ALLOWED_PARAMETERS)))
    args.stack_name = args.stack_name or f"relais-{args.stage}"
    args.out = (args.out or ROOT / "dist" / "infra" / args.stage).resolve()
    return args


def parameters(args, image_uri: str, public_url: str | None = None) -> dict[str, str]:
    """The main stack's parameter values for these options."""
    values = {
        "Stage": args.stage,
        "MailDomain": args.mail_domain,
        "EmbeddingModel": args.model,
        "IndexerImageUri": image_uri,
        "PublicUrl": args.public_url if public_url is None else public_url,
        "AlarmEmail": args.alarm_email,
        "HostedZoneId": args.hosted_zone_id,
        "ApiDomainName": args.api_domain,
        "ApiCertificateArn": args.api_certificate_arn,
        "OpenSearchInstanceType": args.opensearch_instance_type,
        "OpenSearchInstanceCount": str(args.opensearch_instance_count),
        "OpenSearchZoneAwareness": "true" if args.opensearch_zone_awareness else "false",
    }
    if args.callback_url:
        values["AuthCallbackUrls"] = ",".join(args.callback_url)
    for item in args.param:
        key, _, value = item.partition("=")
        values[key] = value
    return values


# Commands ---------------------------------------------------------------------------------------
class Plan:
    """The commands of a deployment; run them, or (dry run) only write them down."""

    def __init__(self, args, dry_run: bool):
        self.args = args
        self.dry_run = dry_run
        self.lines: list[str] = []

    def aws(self, *words: str) -> list[str]:
        command = ["aws", "--region", self.args.region]
        if self.args.profile:
            command += ["--profile", self.args.profile]
        return command + list(words)

    def note(self, text: str) -> None:
        self.lines.append(f"# {text}")
        print(f"deploy: {text}")

    def run(self, command: list[str], *, capture: bool = False, stdin: str | None = None,
            cwd: Path | None = None) -> str:
        shown = shlex.join(command) if stdin is None else f"... | {shlex.join(command)}"
        self.lines.append(shown)
        if self.dry_run:
            return ""
        print(f"$ {shown}", flush=True)
        done = subprocess.run(command, cwd=cwd or ROOT, text=True, input=stdin,
                              stdout=subprocess.PIPE if capture else None)
        if done.returncode != 0:
            raise DeployError(f"failed ({done.returncode}): {shown}")
        return (done.stdout or "").strip()

    def outputs(self, stack: str) -> dict[str, str]:
        if self.dry_run:
            return {}
        text = self.run(self.aws("cloudformation", "describe-stacks", "--stack-name", stack,
                                 "--query", "Stacks[0].Outputs", "--output", "json"),
                        capture=True)
        return {o["OutputKey"]: o["OutputValue"] for o in json.loads(text or "[]") or []}


def overrides(values: dict[str, str]) -> list[str]:
    return ["--parameter-overrides", *(f"{k}={v}" for k, v in values.items())]


def ensure_model(plan: Plan, model: str) -> None:
    """The API Lambda embeds queries with the ONNX export in chalicelib/model/."""
    target = ROOT / "chalicelib" / "model"
    stamp = target / "MODEL"
    if (target / "model.onnx").exists() and stamp.exists() and stamp.read_text().strip() == model:
        plan.note(f"ONNX model for {model} already in chalicelib/model/")
        return
    plan.note(f"exporting {model} to ONNX into chalicelib/model/")
    plan.run([sys.executable, "-c",
              "import sys; from pathlib import Path; from indexer.export_onnx import export; "
              "export(Path(sys.argv[1]), sys.argv[2]); "
              "Path(sys.argv[1], 'MODEL').write_text(sys.argv[2] + '\\n')",
              str(target), model])


def build_context(out: Path) -> Path:
    """Only what the indexer image needs (not .venv/, node_modules/, chalicelib/model/)."""
    context = out / "indexer-context"
    if context.exists():
        shutil.rmtree(context)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "model")
    shutil.copytree(ROOT / "chalicelib", context / "chalicelib", ignore=ignore)
    shutil.copytree(ROOT / "indexer", context / "indexer", ignore=ignore)
    shutil.copy(ROOT / "requirements.txt", context / "requirements.txt")
    return context


def image_tag() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, text=True,
                             capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, text=True,
                               capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        sha, dirty = "nogit", ""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d%H%M%S")
    return f"{sha}{'-dirty' if dirty else ''}-{stamp}"


def push_indexer_image(plan: Plan, args, repository_uri: str) -> str:
    """docker build + push; return the image URI pinned by digest."""
    tag = image_tag()
    registry = repository_uri.split("/", 1)[0]
    context = build_context(args.out) if not plan.dry_run else args.out / "indexer-context"
    plan.note("building and pushing the indexer image")
    plan.run(["docker", "build", "--platform", "linux/amd64", "--provenance=false",
              "-f", str(ROOT / "indexer" / "Dockerfile"), "--build-arg", f"MODEL={args.model}",
              "-t", f"{repository_uri}:{tag}", str(context)])
    password = "" if plan.dry_run else plan.run(plan.aws("ecr", "get-login-password"),
                                                capture=True)
    plan.run(["docker", "login", "--username", "AWS", "--password-stdin", registry],
             stdin=password)
    plan.run(["docker", "push", f"{repository_uri}:{tag}"])
    digest = plan.run(plan.aws("ecr", "describe-images", "--repository-name",
                               repository_uri.split("/", 1)[1], "--image-ids",
                               f"imageTag={tag}", "--query", "imageDetails[0].imageDigest",
                               "--output", "text"), capture=True)
    return f"{repository_uri}@{digest or 'sha256:DIGEST'}"


def activate_rule_set(plan: Plan, args) -> None:
    name = f"relais-{args.stage}"
    if args.keep_active_rule_set:
        plan.note(f"not activating receipt rule set {name} (--keep-active-rule-set)")
        return
    active = plan.run(plan.aws("ses", "describe-active-receipt-rule-set", "--query",
                               "Metadata.Name", "--output", "text"), capture=True)
    if active not in ("", "None", name) and not active.startswith("relais-"):
        plan.note(f"receipt rule set {active!r} is active in {args.region}: left as it is. "
                  f"Add a rule for {args.mail_domain} to it, or activate {name} yourself")
        return
    plan.note(f"activating receipt rule set {name} (one is active per account and region)")
    plan.run(plan.aws("ses", "set-active-receipt-rule-set", "--rule-set-name", name))


def check_tools(args) -> None:
    needed = ["aws"] + ([] if args.indexer_image else ["docker"])
    missing = [tool for tool in needed if shutil.which(tool) is None]
    if missing:
        raise DeployError(f"{', '.join(missing)} not found on PATH (docs/deploy.md, "
                          "prerequisites); --dry-run needs neither")


def deploy(args) -> int:
    plan = Plan(args, dry_run=args.dry_run)
    if not args.dry_run:
        check_tools(args)
    if args.model not in BUNDLED_MODELS:
        print(f"deploy: warning: {args.model}: the ONNX export (indexer.export_onnx) takes the "
              "bundled model or a local folder, the image downloads hub models while building, "
              "and the search index is made for 384 dimensions (docs/deploy.md)", file=sys.stderr)
    if args.region not in SES_RECEIVING_REGIONS:
        print(f"deploy: warning: SES may not receive mail in {args.region} (docs/deploy.md)",
              file=sys.stderr)
    bootstrap_stack = f"{args.stack_name}-bootstrap"

    # 1. What must exist before the stack.
    plan.note(f"stack {bootstrap_stack}: ECR repository and artifact bucket")
    plan.run(plan.aws("cloudformation", "deploy", "--stack-name", bootstrap_stack,
                      "--template-file", str(ROOT / "infra" / "bootstrap.yaml"),
                      "--no-fail-on-empty-changeset", "--tags", f"relais:stage={args.stage}",
                      *overrides({"Stage": args.stage})))
    boot = plan.outputs(bootstrap_stack)
    account = PLACEHOLDER_ACCOUNT
    repository = boot.get("IndexerRepositoryUri", f"{account}.dkr.ecr.{args.region}."
                                                  f"amazonaws.com/relais-{args.stage}-indexer")
    bucket = boot.get("ArtifactBucketName", f"relais-{args.stage}-artifacts-{account}-"
                                            f"{args.region}")

    # 2-3. The API's code and the template.
    if not args.dry_run:
        ensure_model(plan, args.model)
    else:
        plan.note("(real run: export the ONNX model into chalicelib/model/ if missing)")
    plan.note(f"synthesizing into {args.out}")
    report = synthesize(args.out, stage=args.stage, region=args.region)
    found = problems(report)
    for problem in found:
        print(f"deploy: {problem}", file=sys.stderr)
    if found and not args.dry_run:
        raise DeployError("the package cannot be deployed as it is (see above)")

    # 4. The indexer image.
    image = args.indexer_image or push_indexer_image(plan, args, repository)

    # 5. Upload and deploy.
    template = args.out / "template.yaml"
    packaged = args.out / "packaged.yaml"
    plan.note("uploading the API code and deploying the stack")
    plan.run(plan.aws("cloudformation", "package", "--template-file", str(template),
                      "--s3-bucket", bucket, "--s3-prefix", f"{args.stage}/code",
                      "--output-template-file", str(packaged)))
    values = parameters(args, image)
    deploy_command = ["cloudformation", "deploy", "--stack-name", args.stack_name,
                      "--template-file", str(packaged), "--s3-bucket", bucket,
                      "--s3-prefix", f"{args.stage}/templates",
                      "--capabilities", "CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND",
                      "--no-fail-on-empty-changeset", "--tags", f"relais:stage={args.stage}"]
    plan.run(plan.aws(*deploy_command, *overrides(values)))
    (args.out / "parameters.json").write_text(json.dumps(
        [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()], indent=2) + "\n")

    # 6. Mail in.
    activate_rule_set(plan, args)

    # 7. Links in mails: the API's URL unless given.
    outputs = plan.outputs(args.stack_name)
    if not args.public_url:
        plan.note("PublicUrl: the API's URL (EndpointURL output), set by a parameter update")
        url = outputs.get("EndpointURL", "")
        if url or args.dry_run:
            plan.run(plan.aws(*deploy_command,
                              *overrides(parameters(args, image, url or "<EndpointURL>"))))

    (args.out / "commands.sh").write_text(
        "#!/usr/bin/env bash\n# What infra/deploy runs (dry run: placeholders in <> and "
        f"{PLACEHOLDER_ACCOUNT}).\nset -euo pipefail\n" + "\n".join(plan.lines) + "\n")
    if args.dry_run:
        print(f"deploy: dry run: {template}, {args.out / 'parameters.json'} and the commands "
              f"in {args.out / 'commands.sh'}; nothing was deployed"
              + (" (a real run would refuse: see above)" if found else ""))
        return 0
    print("deploy: done. Stack outputs:")
    for key, value in sorted(outputs.items()):
        print(f"  {key} = {value}")
    print("deploy: next: verify the SES domain, create the first admin, hand the HR sync "
          "credentials over, reindex, smoke test (docs/deploy.md)")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return deploy(args)
    except DeployError as error:
        print(f"deploy: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
