"""The synthesized template, read directly: lint, and the wiring of the resource types moto
cannot create (OpenSearch, Cognito, SES receipt rules, CloudWatch alarms, bucket policy,
S3 notification and lifecycle, Lambda async invoke config, API Gateway stage/authorizer)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from infra import tables
from infra.synth import HR_SCOPE, SCOPED_TAGS
from tests.infra.conftest import MAIL_DOMAIN, ROOT

FUNCTION_TYPES = ("AWS::Lambda::Function", "AWS::Serverless::Function")


def of_type(resources: dict, kind: str) -> dict:
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def ref(name: str) -> dict:
    return {"Ref": name}


def getatt(name: str, attribute: str) -> dict:
    return {"Fn::GetAtt": [name, attribute]}


def sub_text(value) -> str:
    """The text of a plain string or Fn::Sub."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    return value if isinstance(value, str) else json.dumps(value)


# Lint ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["synthesized", "bootstrap"])
def test_cfn_lint_is_clean(plan, which):
    path = plan.template_path if which == "synthesized" else ROOT / "infra" / "bootstrap.yaml"
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    done = subprocess.run([str(cfn_lint), "--include-checks", "I", "--", str(path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_synth_reports_no_problem_but_the_package_size(plan):
    report = plan.report
    assert report["runtime"] == "python3.12"
    assert report["roles_without_policy"] == []
    assert all(route["known"] for route in report["routes"])
    assert report["mail_subscriptions"] == [{"function": "ReceiveMail", "buckets": ["MailBucket"],
                                             "prefix": "inbound/",
                                             "events": ["s3:ObjectCreated:*"]}]


# Records -------------------------------------------------------------------------------------------
def test_tables_follow_the_store_design(sam_template):
    """infra/resources.yaml spells out the tables dynamodb_store.py designs (`python -m
    infra.tables` prints them after a design change)."""
    expected = tables.expected_resources()
    for name, resource in expected.items():
        assert sam_template["Resources"][name] == resource, (
            f"{name} differs from chalicelib/adapters/dynamodb_store.py: paste the output of "
            "`python -m infra.tables` into infra/resources.yaml")


def test_tables_stream_new_and_old_images_and_bill_on_demand(resources):
    found = of_type(resources, "AWS::DynamoDB::Table")
    assert set(found) == {"ProfilesTable", "QaTable", "CommunityTable", "MailTable"}
    for name, table in found.items():
        props = table["Properties"]
        if name in ("ProfilesTable", "QaTable"):  # what the indexer reads
            assert props["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
        else:  # the mail ledger, communities and the audit log are not indexed
            assert "StreamSpecification" not in props
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
        assert table["DeletionPolicy"] == "Retain"


# Indexer ------------------------------------------------------------------------------------------
def test_indexer_is_a_container_image_with_the_stream_handler(resources):
    props = resources["IndexerFunction"]["Properties"]
    assert props["PackageType"] == "Image"
    assert props["Code"] == {"ImageUri": ref("IndexerImageUri")}
    assert props["ImageConfig"]["Command"] == ["indexer.lambda_handler.handler"]
    assert props["Role"] == getatt("IndexerRole", "Arn")


@pytest.mark.parametrize("mapping,table", [("ProfilesStreamMapping", "ProfilesTable"),
                                           ("QaStreamMapping", "QaTable")])
def test_stream_mappings_report_failures_bisect_retry_and_dead_letter(resources, mapping, table):
    props = resources[mapping]["Properties"]
    assert props["EventSourceArn"] == getatt(table, "StreamArn")
    assert props["FunctionName"] == getatt("IndexerFunction", "Arn")
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BisectBatchOnFunctionError"] is True
    assert props["MaximumRetryAttempts"] == ref("IndexerMaxRetries")
    assert props["DestinationConfig"] == {
        "OnFailure": {"Destination": getatt("IndexerDeadLetterQueue", "Arn")}}
    assert props["StartingPosition"] == "TRIM_HORIZON"
    patterns = [json.loads(f["Pattern"]) for f in props["FilterCriteria"]["Filters"]]
    images = {image: set(p["dynamodb"][image]["kind"]["S"])
              for p in patterns for image in p["dynamodb"]}
    # removals carry only the old image: both are needed
    assert images == {"NewImage": {"profile", "question", "answer"},
                      "OldImage": {"profile", "question", "answer"}}


# Search ---------------------------------------------------------------------------------------------
def test_search_domain_is_encrypted_https_only_and_delegates_to_iam(resources):
    props = resources["SearchDomain"]["Properties"]
    assert props["EngineVersion"].startswith("OpenSearch_2.")  # k-NN with the Lucene engine
    assert props["EncryptionAtRestOptions"] == {"Enabled": True}
    assert props["NodeToNodeEncryptionOptions"] == {"Enabled": True}
    assert props["DomainEndpointOptions"]["EnforceHTTPS"] is True
    [statement] = props["AccessPolicies"]["Statement"]
    assert sub_text(statement["Principal"]["AWS"]).endswith(":iam::${AWS::AccountId}:root")
    assert all(a.startswith("es:ESHttp") and "*" not in a for a in statement["Action"])
    assert sub_text(statement["Resource"]).endswith(":domain/relais-${Stage}/*")


def test_functions_get_the_search_endpoint_and_settings(sam_template, resources):
    variables = sam_template["Globals"]["Function"]["Environment"]["Variables"]
    assert sub_text(variables["RELAIS_OPENSEARCH_URL"]) == "https://${SearchDomain.DomainEndpoint}"
    indexer = resources["IndexerFunction"]["Properties"]["Environment"]["Variables"]
    for key in ("RELAIS_TABLE_PREFIX", "RELAIS_OPENSEARCH_URL", "RELAIS_OPENSEARCH_INDEX",
                "RELAIS_AWS_REGION"):
        assert indexer[key] == variables[key]


# Inbound mail -----------------------------------------------------------------------------------------
def test_receipt_rule_writes_inbound_mail_where_receive_mail_reads(resources):
    props = resources["ReceiptRule"]["Properties"]
    assert props["RuleSetName"] == ref("ReceiptRuleSet")
    rule = props["Rule"]
    assert rule["Enabled"] is True and rule["ScanEnabled"] is True
    assert rule["Recipients"] == [ref("MailDomain")]
    assert rule["Actions"] == [{"S3Action": {"BucketName": ref("MailBucket"),
                                             "ObjectKeyPrefix": "inbound/"}}]
    assert "MailBucketPolicy" in resources["ReceiptRule"]["DependsOn"]


def test_bucket_policy_lets_only_this_rule_write_and_requires_tls(resources):
    statements = resources["MailBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    ses = next(s for s in statements if s["Effect"] == "Allow")
    assert ses["Principal"] == {"Service": "ses.amazonaws.com"}
    assert ses["Action"] == "s3:PutObject"
    assert sub_text(ses["Resource"]) == "${MailBucket.Arn}/inbound/*"
    assert ses["Condition"]["StringEquals"]["aws:SourceAccount"] == ref("AWS::AccountId")
    source = sub_text(ses["Condition"]["ArnLike"]["aws:SourceArn"])
    assert source.endswith(":receipt-rule-set/relais-${Stage}:receipt-rule/relais-${Stage}-inbound")
    assert sub_text(resources["ReceiptRule"]["Properties"]["Rule"]["Name"]) == \
        "relais-${Stage}-inbound"
    deny = next(s for s in statements if s["Effect"] == "Deny")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_bucket_notifies_receive_mail_and_expires_raw_mail(resources):
    bucket = resources["MailBucket"]
    props = bucket["Properties"]
    [notification] = props["NotificationConfiguration"]["LambdaConfigurations"]
    assert notification["Function"] == getatt("ReceiveMail", "Arn")
    assert notification["Event"] == "s3:ObjectCreated:*"
    assert notification["Filter"] == {"S3Key": {"Rules": [{"Name": "prefix", "Value": "inbound/"}]}}
    assert "ReceiveMailS3Permission" in bucket["DependsOn"]
    permission = resources["ReceiveMailS3Permission"]["Properties"]
    assert permission["Principal"] == "s3.amazonaws.com"
    assert permission["SourceAccount"] == ref("AWS::AccountId")
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-received-mail"]["Prefix"] == "inbound/"
    assert rules["expire-received-mail"]["ExpirationInDays"] == ref("MailRetentionDays")
    assert rules["expire-quarantine"]["ExpirationInDays"] == ref("QuarantineRetentionDays")
    # data exports too large for a response: a day at most
    assert rules["expire-data-exports"]["Prefix"] == "exports/"
    assert rules["expire-data-exports"]["ExpirationInDays"] == 1
    assert all(props["PublicAccessBlockConfiguration"].values())


def test_failed_mail_events_go_to_a_dead_letter_queue(resources):
    props = resources["ReceiveMailInvokeConfig"]["Properties"]
    assert props["FunctionName"] == ref("ReceiveMail")
    assert props["DestinationConfig"] == {
        "OnFailure": {"Destination": getatt("MailDeadLetterQueue", "Arn")}}


def test_sending_identity_and_dns_records(resources):
    assert resources["MailIdentity"]["Properties"]["EmailIdentity"] == ref("MailDomain")
    mx = resources["MailMxRecord"]
    assert mx["Condition"] == "HasHostedZone" and mx["Properties"]["Type"] == "MX"
    assert sub_text(mx["Properties"]["ResourceRecords"][0]) == \
        "10 inbound-smtp.${AWS::Region}.amazonaws.com"
    for i in (1, 2, 3):
        record = resources[f"MailDkimRecord{i}"]["Properties"]
        assert record["Name"] == getatt("MailIdentity", f"DkimDNSTokenName{i}")


# Authentication ---------------------------------------------------------------------------------------
def test_user_pool_groups_and_claims_auth_py_reads(resources):
    pool = resources["UserPool"]["Properties"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    custom = {a["Name"] for a in pool["Schema"]}
    assert {"relais_id", "relais_role"} <= custom
    groups = {g["Properties"]["GroupName"] for g in
              of_type(resources, "AWS::Cognito::UserPoolGroup").values()}
    assert groups == {"relais-hr", "relais-admin"}


def test_users_cannot_write_their_own_role_or_id(resources):
    for client in of_type(resources, "AWS::Cognito::UserPoolClient").values():
        if client["Properties"]["AllowedOAuthFlows"] == ["client_credentials"]:
            continue  # no user ever holds a token of this client
        written = client["Properties"].get("WriteAttributes")
        assert written is not None, "without WriteAttributes a client may write every attribute"
        assert not any(a.startswith("custom:") for a in written)


def test_hr_sync_uses_client_credentials_with_its_scope(resources):
    server = resources["ApiResourceServer"]["Properties"]
    assert server["Identifier"] + "/" + server["Scopes"][0]["ScopeName"] == HR_SCOPE
    client = resources["HrSyncClient"]["Properties"]
    assert client["AllowedOAuthFlows"] == ["client_credentials"]
    assert client["AllowedOAuthScopes"] == [HR_SCOPE]
    assert client["GenerateSecret"] is True
    web = resources["WebClient"]["Properties"]
    assert HR_SCOPE not in web["AllowedOAuthScopes"]  # employees cannot get the HR scope


def test_every_authenticated_route_has_the_cognito_authorizer(sam_template):
    import app as app_module

    body = sam_template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    authorizer = body["securityDefinitions"]["RelaisCognito"]
    assert authorizer["x-amazon-apigateway-authorizer"] == {
        "type": "cognito_user_pools", "providerARNs": [getatt("UserPool", "Arn")]}
    specs = {(s.path, s.method.lower()): s for s in app_module.api.specs}
    seen = set()
    for path, operations in body["paths"].items():
        for method, operation in operations.items():
            if method == "options":
                assert "security" not in operation  # CORS preflight carries no token
                continue
            spec = specs[(path, method)]
            seen.add((path, method))
            if not spec.auth:
                assert "security" not in operation, f"{method} {path} is public in app.py"
                continue
            scopes = [HR_SCOPE] if spec.tag in SCOPED_TAGS else []
            assert operation["security"] == [{"RelaisCognito": scopes}], f"{method} {path}"
    assert seen == set(specs)


def test_gateway_errors_keep_the_error_shape_and_cors(sam_template):
    body = sam_template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    responses = body["x-amazon-apigateway-gateway-responses"]
    unauthorized = responses["UNAUTHORIZED"]
    assert unauthorized["statusCode"] == 401
    assert '"code": "unauthorized"' in unauthorized["responseTemplates"]["application/json"]
    unknown_route = responses["MISSING_AUTHENTICATION_TOKEN"]
    assert unknown_route["statusCode"] == 404
    assert json.loads(unknown_route["responseTemplates"]["application/json"])["error"]["code"] \
        == "not_found"
    # 404 is right only while no route is signed with IAM (a missing signature gives the same)
    assert all(scheme.get("x-amazon-apigateway-authtype") != "awsSigv4"
               for scheme in body.get("securityDefinitions", {}).values())
    for response in responses.values():
        assert "gatewayresponse.header.Access-Control-Allow-Origin" in \
            response["responseParameters"]


# Least privilege ----------------------------------------------------------------------------------------
# The only wildcards allowed in a resource, each explained in docs/deploy.md ("Wildcards").
ALLOWED_WILDCARDS = [
    r"^arn:\$\{AWS::Partition\}:logs:\$\{AWS::Region\}:\$\{AWS::AccountId\}:log-group:"
    r"/aws/lambda/\$\{AWS::StackName\}-\*:\*$",  # generated function names
    r"^\$\{(ProfilesTable|QaTable|CommunityTable|MailTable)\.Arn\}/index/\*$",  # the GSIs
    r"^\$\{(ProfilesTable|QaTable)\.Arn\}/stream/\*$",  # ListStreams
    r"^\$\{SearchDomain\.Arn\}/\*$",  # paths (indexes) of the one domain
    r"^arn:\$\{AWS::Partition\}:s3:::relais-\$\{Stage\}-mail-\$\{AWS::AccountId\}-"
    r"\$\{AWS::Region\}/(inbound|kept|quarantine|exports)/\*$",  # objects under a prefix
]


def policy_documents(resources: dict):
    for name, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                yield f"{name}/{policy['PolicyName']}", policy["PolicyDocument"]
        elif resource["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            yield name, props["PolicyDocument"]


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def test_every_allow_lists_its_actions_and_names_its_resources(resources):
    checked = 0
    for name, document in policy_documents(resources):
        for statement in document["Statement"]:
            assert statement["Effect"] == "Allow", f"{name}: {statement}"
            for action in as_list(statement["Action"]):
                assert "*" not in action, f"{name}: action {action}"
            for resource in as_list(statement["Resource"]):
                text = sub_text(resource)
                assert text != "*", f"{name}: Resource *"
                if "*" in text:
                    assert any(re.match(p, text) for p in ALLOWED_WILDCARDS), f"{name}: {text}"
                checked += 1
    assert checked > 20


def test_each_chalice_function_has_its_own_role_with_the_core_policy(resources):
    core_roles = resources["AppCorePolicy"]["Properties"]["Roles"]
    roles = []
    for name, function in of_type(resources, "AWS::Lambda::Function").items():
        if name == "IndexerFunction":
            continue
        role = function["Properties"]["Role"]["Fn::GetAtt"][0]
        assert ref(role) in core_roles, f"{name}: add {role} to AppCorePolicy's Roles"
        roles.append(role)
    assert len(set(roles)) == len(roles) == 4
    # only ReceiveMail reads the mail; the API reaches the bucket's exports only
    inline = {name: r["Properties"].get("Policies", []) for name, r in
              of_type(resources, "AWS::IAM::Role").items()}
    assert [p["PolicyName"] for p in inline["ReceiveMailRole"]] == ["inbound-mail"]
    [exports] = inline["ApiHandlerRole"]
    [statement] = exports["PolicyDocument"]["Statement"]
    assert sorted(statement["Action"]) == ["s3:GetObject", "s3:PutObject"]
    assert sub_text(statement["Resource"]).endswith("/exports/*")
    for role in ("EscalateOnScheduleRole", "SendDigestsOnScheduleRole"):
        assert inline[role] == []


def test_the_chalice_functions_use_every_record_table_and_its_indexes(resources):
    """A table the stores write but the API's role may not reach fails only on AWS."""
    core = resources["AppCorePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    records = next(s for s in core if s.get("Sid") == "Records")
    indexes = next(s for s in core if s.get("Sid") == "RecordIndexes")
    table_ids = sorted(of_type(resources, "AWS::DynamoDB::Table"))
    assert sorted(r["Fn::GetAtt"][0] for r in records["Resource"]) == table_ids
    assert sorted(sub_text(r) for r in indexes["Resource"]) == sorted(
        "${%s.Arn}/index/*" % table for table in table_ids)
    assert {"dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"} <= set(
        records["Action"])


def test_search_is_read_only_for_the_api_and_writable_for_the_indexer(resources):
    core = resources["AppCorePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    search = next(s for s in core if s.get("Sid") == "Search")
    assert set(search["Action"]) == {"es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost"}
    [indexer] = resources["IndexerRole"]["Properties"]["Policies"]
    write = next(s for s in indexer["PolicyDocument"]["Statement"]
                 if s.get("Sid") == "WriteSearchIndex")
    assert {"es:ESHttpPut", "es:ESHttpDelete"} <= set(write["Action"])


# Alarms ------------------------------------------------------------------------------------------------
def test_alarms_on_dead_letter_queues_lag_and_every_function_error_rate(resources):
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [ref("AlarmTopic")]
    for queue, alarm in (("IndexerDeadLetterQueue", "IndexerDeadLetterAlarm"),
                         ("MailDeadLetterQueue", "MailDeadLetterAlarm")):
        props = alarms[alarm]["Properties"]
        assert props["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert props["Dimensions"] == [{"Name": "QueueName", "Value": getatt(queue, "QueueName")}]
        assert props["Threshold"] == 1
    functions = [n for n, r in resources.items() if r["Type"] in FUNCTION_TYPES]
    assert len(functions) >= 5
    for function in functions:
        props = alarms[f"{function}ErrorRateAlarm"]["Properties"]
        stats = {m["Id"]: m for m in props["Metrics"]}
        for metric in ("errors", "invocations"):
            dimensions = stats[metric]["MetricStat"]["Metric"]["Dimensions"]
            assert dimensions == [{"Name": "FunctionName", "Value": ref(function)}]
        assert "100 * errors / invocations" in stats["rate"]["Expression"]
    assert alarms["IndexerLagAlarm"]["Properties"]["MetricName"] == "IteratorAge"
    subscription = resources["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"


# The API Lambda's runtime --------------------------------------------------------------------------------
def test_chalice_functions_run_python_3_12(resources):
    runtimes = {r["Properties"]["Runtime"] for r in of_type(resources, "AWS::Lambda::Function")
                .values() if "Runtime" in r["Properties"]}
    assert runtimes == {"python3.12"}


# The deploy command --------------------------------------------------------------------------------------
def test_dry_run_writes_the_parameters_and_the_commands(plan, sam_template):
    declared = sam_template["Parameters"]
    assert set(plan.parameters) <= set(declared)
    required = {k for k, v in declared.items() if "Default" not in v} - {"Stage"}
    assert required <= set(plan.parameters)
    assert plan.parameters["MailDomain"] == MAIL_DOMAIN
    assert plan.parameters["Stage"] == "test"
    order = ["cloudformation deploy --stack-name relais-test-bootstrap", "docker build",
             "docker push", "cloudformation package", "cloudformation deploy --stack-name "
             "relais-test ", "ses set-active-receipt-rule-set --rule-set-name relais-test"]
    positions = [plan.commands.find(step) for step in order]
    assert -1 not in positions and positions == sorted(positions), plan.commands


def test_indexer_image_runs_the_handler_the_template_names(resources):
    dockerfile = (ROOT / "indexer" / "Dockerfile").read_text()
    assert re.search(r"^FROM public\.ecr\.aws/lambda/python:3\.12$", dockerfile, re.M)
    [cmd] = re.findall(r"^CMD (\[.*\])$", dockerfile, re.M)
    command = json.loads(cmd)
    assert command == resources["IndexerFunction"]["Properties"]["ImageConfig"]["Command"]
    module, _, function = command[0].rpartition(".")
    import importlib
    assert callable(getattr(importlib.import_module(module), function))
    env = resources["IndexerFunction"]["Properties"]["Environment"]["Variables"]
    assert env["RELAIS_EMBEDDING_MODEL"] == "/opt/relais-model" and "/opt/relais-model" in dockerfile
