#!/usr/bin/env python3
"""Prepares a moto server started with INITIAL_NO_AUTH_ACTION_COUNT for signed tests.

Usage: moto_iam_setup.py ENDPOINT BUCKET
Makes exactly SETUP_ACTIONS unauthenticated requests: the bucket, and three IAM users with access keys:
  full     s3:* on everything, sts:AssumeRole
  writer   s3:ListBucket and s3:PutObject only (a least-privilege backup host)
  reader   s3:ListBucket and s3:GetObject only
Prints a JSON object {user: {"access_key_id": ..., "secret_access_key": ...}}.
"""
import json
import sys

import boto3
from botocore.config import Config

SETUP_ACTIONS = 10

POLICIES = {
    "full": ["s3:*", "sts:AssumeRole"],
    "writer": ["s3:ListBucket", "s3:PutObject"],
    "reader": ["s3:ListBucket", "s3:GetObject"],
}


def main():
    endpoint, bucket = sys.argv[1], sys.argv[2]
    config = Config(retries={"max_attempts": 1, "mode": "standard"})
    session = boto3.session.Session(aws_access_key_id="setup", aws_secret_access_key="setup", region_name="us-east-1")
    s3 = session.client("s3", endpoint_url=endpoint, config=config)
    iam = session.client("iam", endpoint_url=endpoint, config=config)
    s3.create_bucket(Bucket=bucket)  # 1
    keys = {}
    for user, actions in POLICIES.items():  # 3 per user
        iam.create_user(UserName=user)
        policy = {"Version": "2012-10-17",
                  "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
        iam.put_user_policy(UserName=user, PolicyName=f"{user}-policy", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        keys[user] = {"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}
    print(json.dumps(keys))


if __name__ == "__main__":
    main()
