#!/usr/bin/env python3
"""Prepares a moto server started with INITIAL_NO_AUTH_ACTION_COUNT=7 for the encrypted backup-host test.

Usage: moto_backup_setup.py ENDPOINT BUCKET
Makes exactly 7 unauthenticated requests: the bucket, and two IAM users with access keys:
  admin    s3:* and kms:* (creates the KMS key, reads the backups back)
  backup   s3:ListBucket, s3:PutObject and kms:GenerateDataKey only: writes encrypted files, can read nothing back
Then, as admin, creates a KMS key. Prints {"admin": {...}, "backup": {...}, "key_arn": ARN}.
"""
import json
import sys

import boto3
from botocore.config import Config

POLICIES = {
    "admin": ["s3:*", "kms:*"],
    "backup": ["s3:ListBucket", "s3:PutObject", "kms:GenerateDataKey"],
}


def main():
    endpoint, bucket = sys.argv[1], sys.argv[2]
    config = Config(retries={"max_attempts": 1, "mode": "standard"})
    session = boto3.session.Session(aws_access_key_id="setup", aws_secret_access_key="setup", region_name="us-east-1")
    session.client("s3", endpoint_url=endpoint, config=config).create_bucket(Bucket=bucket)  # 1
    iam = session.client("iam", endpoint_url=endpoint, config=config)
    result = {}
    for user, actions in POLICIES.items():  # 3 per user
        iam.create_user(UserName=user)
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
        iam.put_user_policy(UserName=user, PolicyName=f"{user}-policy", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        result[user] = {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}
    admin = boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1", config=config,
                         aws_access_key_id=result["admin"]["access_key_id"],
                         aws_secret_access_key=result["admin"]["secret_access_key"])
    result["key_arn"] = admin.create_key(Description="coffer backup test")["KeyMetadata"]["Arn"]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
