"""The aws profile as synthesized by `infra/deploy --dry-run`, once per test session.

The first run downloads the API Lambda's dependencies (manylinux wheels for the Lambda runtime)
from PyPI, about two minutes; later runs reuse .cache/infra/ and take ~15-30 s.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.infra.cfn import sam_to_cloudformation

ROOT = Path(__file__).resolve().parents[2]
STAGE = "test"
MAIL_DOMAIN = "ask.example.com"


class Plan:
    """What the dry run wrote: template.yaml, deployment.zip, synth.json, parameters.json,
    commands.sh."""

    def __init__(self, folder: Path, output: str):
        self.folder = folder
        self.output = output
        self.report = json.loads((folder / "synth.json").read_text())
        self.template_path = folder / "template.yaml"
        self.zip_path = folder / "deployment.zip"
        self.parameters = {p["ParameterKey"]: p["ParameterValue"]
                           for p in json.loads((folder / "parameters.json").read_text())}
        self.commands = (folder / "commands.sh").read_text()


@pytest.fixture(scope="session")
def plan(tmp_path_factory) -> Plan:
    folder = tmp_path_factory.mktemp("infra-plan")
    env = dict(os.environ, AWS_DEFAULT_REGION="eu-west-1")
    done = subprocess.run(
        [str(ROOT / "infra" / "deploy"), "--dry-run", "--out", str(folder), "--stage", STAGE,
         "--region", "eu-west-1", "--mail-domain", MAIL_DOMAIN, "--alarm-email",
         "ops@example.com", "--param", "ProtectData=false"],
        cwd=ROOT, env=dict(env, PYTHON=sys.executable), text=True, capture_output=True,
        timeout=580)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return Plan(folder, output)


@pytest.fixture(scope="session")
def sam_template(plan) -> dict:
    return yaml.safe_load(plan.template_path.read_text())


@pytest.fixture(scope="session")
def cfn_template(sam_template) -> dict:
    """The SAM template after the AWS::Serverless transform (what CloudFormation deploys)."""
    return sam_to_cloudformation(sam_template)


@pytest.fixture(scope="session")
def resources(cfn_template) -> dict:
    return cfn_template["Resources"]
