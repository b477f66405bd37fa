"""The DynamoDB tables as the adapters design them (chalicelib/adapters/dynamodb_store.py for
profiles, Q&A and communities, chalicelib/adapters/mail.py for the mail ledger), in
CloudFormation.

infra/resources.yaml spells the tables out (so the template reads on its own); a test holds it to
the adapters' design. After changing the design (a GSI, a key), print the new resources and
paste them over ProfilesTable, QaTable, CommunityTable and MailTable in infra/resources.yaml:

    python -m infra.tables
"""
from __future__ import annotations

import sys

import yaml

LOGICAL_IDS = {"profiles": "ProfilesTable", "qa": "QaTable", "community": "CommunityTable",
               "mail": "MailTable"}


def streamed() -> frozenset[str]:
    """The families the indexer reads (dynamodb_store.STREAMED); the others have no stream."""
    from chalicelib.adapters.dynamodb_store import STREAMED
    return frozenset(STREAMED)


def design() -> dict[str, tuple]:
    """Family -> GSIs, read from the adapters (the one source of the table design)."""
    from chalicelib.adapters.dynamodb_store import TABLE_INDEXES
    from chalicelib.adapters.mail import MAIL_INDEXES
    return {**{family: tuple(indexes) for family, indexes in TABLE_INDEXES.items()},
            "mail": tuple(MAIL_INDEXES)}


def table_properties(family: str, indexes) -> dict:
    """The properties CloudFormation needs for one table family (names from the Stage)."""
    key_names = {"pk", "sk"} | {k["AttributeName"] for i in indexes for k in i["KeySchema"]}
    stream = ({"StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"}}
              if family in streamed() else {})
    return {
        "TableName": {"Fn::Sub": "relais-${Stage}-%s" % family},
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                      {"AttributeName": "sk", "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"}
                                 for a in sorted(key_names)],
        "GlobalSecondaryIndexes": [dict(i) for i in indexes],
        **stream,
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "DeletionProtectionEnabled": {"Ref": "ProtectData"},
        "Tags": [{"Key": "relais:stage", "Value": {"Ref": "Stage"}}],
    }


def expected_resources() -> dict:
    return {LOGICAL_IDS[family]: {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain",
                                  "UpdateReplacePolicy": "Retain",
                                  "Properties": table_properties(family, indexes)}
            for family, indexes in design().items()}


class _Dumper(yaml.SafeDumper):
    """Writes {"Ref": x} and {"Fn::Sub": x} in CloudFormation's short form."""


_Dumper.add_representer(
    dict, lambda dumper, data:
    dumper.represent_scalar("!Ref", data["Ref"]) if list(data) == ["Ref"]
    else dumper.represent_scalar("!Sub", data["Fn::Sub"]) if list(data) == ["Fn::Sub"]
    else dumper.represent_dict(data.items()))


def main() -> int:
    text = yaml.dump(expected_resources(), Dumper=_Dumper, sort_keys=False, width=100)
    sys.stdout.write("".join("  " + line if line.strip() else line
                             for line in text.splitlines(keepends=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
