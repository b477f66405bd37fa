"""The synthesized stack, deployed into moto's CloudFormation (`mock_aws`, `create_stack`).

moto runs no SAM transform, so the template is transformed here as CloudFormation would
(samtranslator). moto cannot create some of the resource types in it; those are left out, every
reference to them becomes a fixed stand-in value, and test_template.py checks them in the
template instead. The list is pinned below so a moto upgrade that adds one shows up.
"""
from __future__ import annotations

import ast
import io
import json
import re
import zipfile

import boto3
import pytest
from moto import mock_aws

from chalicelib.adapters.dynamodb_store import STREAMED, TABLE_INDEXES, table_names
from chalicelib.adapters.mail import MAIL_INDEXES, mail_table_name
from chalicelib.config import Settings
from tests.infra.cfn import (ACCOUNT, CODE, REGION, moto_supported_types,
                             without_unsupported)
from tests.infra.conftest import STAGE

STACK = f"relais-{STAGE}"
MAIL_BUCKET = f"relais-{STAGE}-mail-{ACCOUNT}-{REGION}"
IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/relais-{STAGE}-indexer@sha256:{'0' * 64}"

# What moto 5 cannot create from CloudFormation (or, for the Deployment, cannot create from a
# RestApi whose methods come from its OpenAPI Body, which moto ignores).
NOT_DEPLOYABLE_IN_MOTO = {
    "AWS::ApiGateway::Deployment", "AWS::ApiGateway::Stage", "AWS::ApiGateway::DomainName",
    "AWS::ApiGateway::BasePathMapping", "AWS::CloudWatch::Alarm", "AWS::Cognito::UserPool",
    "AWS::Cognito::UserPoolClient", "AWS::Cognito::UserPoolDomain",
    "AWS::Cognito::UserPoolGroup", "AWS::Cognito::UserPoolResourceServer",
    "AWS::Lambda::EventInvokeConfig", "AWS::OpenSearchService::Domain", "AWS::S3::BucketPolicy",
    "AWS::SES::EmailIdentity", "AWS::SES::ReceiptRule", "AWS::SES::ReceiptRuleSet",
    "AWS::SNS::Subscription",
}


class Stack:
    def __init__(self, removed: dict[str, str]):
        self.removed = removed
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        self.description = cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]
        summaries = cloudformation.list_stack_resources(StackName=STACK)
        self.physical = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                         for r in summaries["StackResourceSummaries"]}
        self.outputs = {o["OutputKey"]: o["OutputValue"]
                        for o in self.description.get("Outputs", [])}

    @staticmethod
    def client(service: str):
        return boto3.client(service, region_name=REGION)


@pytest.fixture(scope="module")
def stack(cfn_template, plan):
    """The stack, created once for this module (moto state lives inside the fixture)."""
    template, removed = without_unsupported(cfn_template, moto_supported_types())
    parameters = dict(plan.parameters, IndexerImageUri=IMAGE, PublicUrl="https://intranet.test/")
    with pytest.MonkeyPatch.context() as patch:
        for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                           ("AWS_DEFAULT_REGION", REGION)):
            patch.setenv(key, value)
        with mock_aws():
            s3 = boto3.client("s3", region_name=REGION)
            s3.create_bucket(Bucket=CODE["Bucket"],
                             CreateBucketConfiguration={"LocationConstraint": REGION})
            code = io.BytesIO()
            with zipfile.ZipFile(code, "w") as archive:  # moto never runs it
                archive.writestr("app.py", "app = None\n")
            s3.put_object(Bucket=CODE["Bucket"], Key=CODE["Key"], Body=code.getvalue())
            boto3.client("cloudformation", region_name=REGION).create_stack(
                StackName=STACK, TemplateBody=json.dumps(template),
                Parameters=[{"ParameterKey": k, "ParameterValue": v}
                            for k, v in parameters.items()],
                Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
            yield Stack(removed)


def test_stack_is_created(stack):
    assert stack.description["StackStatus"] == "CREATE_COMPLETE"


def test_only_the_known_types_were_left_out(stack):
    assert set(stack.removed.values()) == NOT_DEPLOYABLE_IN_MOTO


def test_tables_exist_with_streams_and_the_store_indexes(stack):
    dynamodb = stack.client("dynamodb")
    names = dict(table_names(f"relais-{STAGE}"), mail=mail_table_name(f"relais-{STAGE}"))
    assert set(TABLE_INDEXES) == {"profiles", "qa", "community"}
    for family, indexes in (*TABLE_INDEXES.items(), ("mail", MAIL_INDEXES)):
        table = dynamodb.describe_table(TableName=names[family])["Table"]
        if family in STREAMED:
            assert table["StreamSpecification"] == {"StreamEnabled": True,
                                                    "StreamViewType": "NEW_AND_OLD_IMAGES"}
        else:
            assert "LatestStreamArn" not in table
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == \
            {i["IndexName"] for i in indexes}
        assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]


def test_stream_mappings_feed_the_indexer_with_failure_reporting_and_dlq(stack):
    dynamodb, lam, sqs = stack.client("dynamodb"), stack.client("lambda"), stack.client("sqs")
    dlq_url = sqs.get_queue_url(QueueName=f"relais-{STAGE}-indexer-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    names = table_names(f"relais-{STAGE}")
    streams = {dynamodb.describe_table(TableName=names[family])["Table"]["LatestStreamArn"]
               for family in STREAMED}
    indexer = lam.get_function(FunctionName=f"relais-{STAGE}-indexer")["Configuration"]
    mappings = [m for m in lam.list_event_source_mappings()["EventSourceMappings"]
                if m["FunctionArn"] == indexer["FunctionArn"]]
    assert {m["EventSourceArn"] for m in mappings} == streams
    for mapping in mappings:
        assert mapping["FunctionArn"] == indexer["FunctionArn"]
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["BisectBatchOnFunctionError"] is True
        assert mapping["MaximumRetryAttempts"] == 5
        assert mapping["DestinationConfig"] == {"OnFailure": {"Destination": dlq_arn}}
        assert mapping["StartingPosition"] == "TRIM_HORIZON"


def test_dead_letter_queues_keep_messages_two_weeks(stack):
    sqs = stack.client("sqs")
    for name in (f"relais-{STAGE}-indexer-dlq", f"relais-{STAGE}-mail-dlq"):
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attributes["MessageRetentionPeriod"] == "1209600"


def test_api_functions_read_the_settings_of_this_stack(stack):
    """The environment each Chalice function gets makes Settings point at this stack."""
    lam = stack.client("lambda")
    chalice_functions = ["APIHandler", "EscalateOnSchedule", "SendDigestsOnSchedule",
                         "ReceiveMail"]
    tables = set(stack.client("dynamodb").list_tables()["TableNames"])
    for logical in chalice_functions:
        config = lam.get_function(FunctionName=stack.physical[logical])["Configuration"]
        assert config["Runtime"] == "python3.12"
        env = config["Environment"]["Variables"]
        settings = Settings.from_env(env)
        assert settings.backend == "aws"
        assert set(table_names(settings.table_prefix).values()) <= tables
        assert mail_table_name(settings.table_prefix) in tables
        assert settings.mail_bucket == MAIL_BUCKET
        assert settings.mail_domain == "ask.example.com"
        assert settings.mail_from == "relais@ask.example.com"
        assert settings.public_url == "https://intranet.test/"
        assert settings.aws_region == REGION
        assert settings.opensearch_url.startswith("https://")


def test_handlers_and_schedules(stack):
    lam, events = stack.client("lambda"), stack.client("events")
    handlers = {logical: lam.get_function(FunctionName=stack.physical[logical])[
        "Configuration"]["Handler"] for logical in ("APIHandler", "ReceiveMail")}
    assert handlers == {"APIHandler": "app.app", "ReceiveMail": "app.receive_mail"}
    schedules = {rule["ScheduleExpression"] for rule in events.list_rules()["Rules"]}
    assert schedules == {"rate(15 minutes)", "cron(0 * * * ? *)"}


def test_mail_bucket_exists_encrypted(stack):
    s3 = stack.client("s3")
    assert stack.physical["MailBucket"] == MAIL_BUCKET
    encryption = s3.get_bucket_encryption(Bucket=MAIL_BUCKET)
    [rule] = encryption["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    # moto's CloudFormation does not apply NotificationConfiguration or LifecycleConfiguration
    # of a bucket: test_template.py checks them in the template.


def test_receive_mail_may_be_invoked_by_s3_for_this_bucket_only(stack):
    lam = stack.client("lambda")
    policy = json.loads(lam.get_policy(FunctionName=stack.physical["ReceiveMail"])["Policy"])
    [statement] = [s for s in policy["Statement"]
                   if s["Principal"] == {"Service": "s3.amazonaws.com"}]
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == f"arn:aws:s3:::{MAIL_BUCKET}"


def _role_documents(iam, role_name: str) -> list[dict]:
    documents = [iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
                 for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]]
    for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        documents.append(iam.get_policy_version(
            PolicyArn=attached["PolicyArn"],
            VersionId=policy["DefaultVersionId"])["PolicyVersion"]["Document"])
    return documents


def test_roles_grant_listed_actions_on_this_stacks_resources(stack):
    iam = stack.client("iam")
    roles = [stack.physical[n] for n in ("ApiHandlerRole", "EscalateOnScheduleRole",
                                         "SendDigestsOnScheduleRole", "ReceiveMailRole",
                                         "IndexerRole")]
    table_arn = re.compile(
        rf"^arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/relais-{STAGE}-(profiles|qa|community|mail)")
    for role in roles:
        documents = _role_documents(iam, role)
        assert documents, role
        for document in documents:
            if isinstance(document, str):  # moto keeps CloudFormation's inline policies as
                document = ast.literal_eval(document)  # the repr of a dict
            for statement in document["Statement"]:
                assert statement["Effect"] == "Allow"
                actions = statement["Action"] if isinstance(statement["Action"], list) \
                    else [statement["Action"]]
                resources = statement["Resource"] if isinstance(statement["Resource"], list) \
                    else [statement["Resource"]]
                assert all("*" not in a for a in actions), (role, actions)
                assert "*" not in resources, (role, statement)
                if any(a.startswith("dynamodb:") for a in actions):
                    assert all(table_arn.match(r) for r in resources), (role, resources)
                if any(a.startswith("s3:") for a in actions):
                    assert all(r.startswith(f"arn:aws:s3:::{MAIL_BUCKET}/") for r in resources)
                if any(a.startswith("sqs:") for a in actions):
                    assert all(r.startswith(f"arn:aws:sqs:{REGION}:{ACCOUNT}:relais-{STAGE}-")
                               for r in resources)


def test_log_groups_keep_thirty_days(stack):
    logs = stack.client("logs")
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    ours = [g for g in groups if g["logGroupName"].startswith((f"/aws/lambda/{STACK}-",
                                                               f"/aws/lambda/relais-{STAGE}-"))]
    assert len(ours) == 5
    assert {g.get("retentionInDays") for g in ours} == {30}


def test_alarm_topic_exists(stack):
    topics = [t["TopicArn"] for t in stack.client("sns").list_topics()["Topics"]]
    assert f"arn:aws:sns:{REGION}:{ACCOUNT}:relais-{STAGE}-alarms" in topics
