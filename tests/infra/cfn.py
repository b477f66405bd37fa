"""Helpers to turn the synthesized SAM template into plain CloudFormation and into a stack moto
can create (moto runs no SAM transform and lacks some resource types)."""
from __future__ import annotations

import copy
import re
from typing import Any

ACCOUNT = "123456789012"
REGION = "eu-west-1"
CODE = {"Bucket": "relais-test-artifacts", "Key": "deployment.zip"}


def sam_to_cloudformation(template: dict) -> dict:
    """What CloudFormation's AWS::Serverless transform does, as `aws cloudformation package`
    would leave it (CodeUri pointing at S3). No managed policy is named by the template, so
    the translator needs no IAM look-up."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    template = copy.deepcopy(template)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = dict(CODE)
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(
        region_name=REGION, aws_access_key_id="unused", aws_secret_access_key="unused"))
    return translator.translate(template, parameter_values={}, get_managed_policy_map=dict)


def moto_supported_types() -> set[str]:
    """Resource types moto's CloudFormation can create."""
    import moto.cloudformation.parsing  # noqa: F401  (imports every model with a CFN type)
    from moto.core.common_models import CloudFormationModel

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    types = set()
    for cls in subclasses(CloudFormationModel):
        try:
            types.add(cls.cloudformation_type())
        except Exception:  # abstract models
            pass
    return types


def stand_in_value(name: str, attribute: str | None = None) -> str:
    if attribute is None:
        return f"{name}-standin"
    if attribute.endswith("Arn"):
        return f"arn:aws:standin:{REGION}:{ACCOUNT}:{name.lower()}"
    return f"{name}-{attribute}-standin".lower()


_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.([A-Za-z0-9.]+))?\}")


# moto creates an AWS::ApiGateway::RestApi but ignores its OpenAPI Body, so a Deployment of it
# fails ("The REST API doesn't contain any methods"): left out like the unsupported types.
MOTO_BROKEN = frozenset({"AWS::ApiGateway::Deployment"})


def without_unsupported(template: dict, supported: set[str]) -> tuple[dict, dict[str, str]]:
    """The template minus the resources moto cannot create; every Ref/GetAtt/Sub naming one
    becomes a fixed stand-in string. Returns it and {logical id: type} of what was left out."""
    resources = template["Resources"]
    removed = {name: r["Type"] for name, r in resources.items()
               if r["Type"] not in supported or r["Type"] in MOTO_BROKEN}

    def sub(text: str, local: set[str]) -> str:
        def replace(match):
            name, attribute = match.group(1), match.group(2)
            if name in removed and name not in local:
                return stand_in_value(name, attribute)
            return match.group(0)
        return _SUB_NAME.sub(replace, text)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if list(node) == ["Ref"] and node["Ref"] in removed:
                return stand_in_value(node["Ref"])
            if list(node) == ["Fn::GetAtt"]:
                target = node["Fn::GetAtt"]
                name, attribute = (target.split(".", 1) if isinstance(target, str) else target)
                if name in removed:
                    return stand_in_value(name, attribute)
            if list(node) == ["Fn::Sub"]:
                value = node["Fn::Sub"]
                if isinstance(value, str):
                    return {"Fn::Sub": sub(value, set())}
                text, variables = value
                return {"Fn::Sub": [sub(text, set(variables)), walk(variables)]}
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    out = copy.deepcopy(template)
    kept = {}
    for name, resource in resources.items():
        if name in removed:
            continue
        resource = walk(resource)
        depends = resource.get("DependsOn")
        if depends is not None:
            depends = [d for d in ([depends] if isinstance(depends, str) else depends)
                       if d not in removed]
            if depends:
                resource["DependsOn"] = depends
            else:
                resource.pop("DependsOn")
        kept[name] = resource
    out["Resources"] = kept
    out["Outputs"] = walk(template.get("Outputs", {}))
    return out, removed
