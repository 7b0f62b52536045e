#!/usr/bin/env python3
"""The AWS Encryption SDK for Python, as the encryption tests use it against a test S3/KMS server.

  esdk_tool.py encrypt|decrypt (--key-file F [--namespace NS] [--name N] | --kms-key ID) [--context K=V ...]
               [--frame-length N] [--suite committing|signed] (--in PATH | --s3-in BUCKET/KEY)
               (--out PATH | --s3-out BUCKET/KEY)
  esdk_tool.py create-kms-key [--alias alias/NAME]        prints the new key's ARN

KMS calls go to AWS_ENDPOINT_URL_KMS (or AWS_ENDPOINT_URL), --s3-in/--s3-out use boto3 with AWS_ENDPOINT_URL_S3;
credentials and region come from the environment.
Decrypting checks the given context pairs are in the message (as aws-encryption-cli --encryption-context does).
"""
import argparse
import os
import sys

import boto3
import botocore.session
import aws_encryption_sdk
from aws_encryption_sdk import CommitmentPolicy
from aws_encryption_sdk.identifiers import Algorithm, EncryptionKeyType, WrappingAlgorithm
from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
from aws_encryption_sdk.key_providers.raw import RawMasterKey
from aws_encryption_sdk.key_providers.kms import StrictAwsKmsMasterKeyProvider


def endpoint():
    return os.environ.get("AWS_ENDPOINT_URL_KMS") or os.environ.get("AWS_ENDPOINT_URL")


def provider(args):
    if args.kms_key:
        # The provider builds its KMS clients from a botocore session: point them at the test endpoint.
        core = botocore.session.Session()
        core.set_config_variable("region", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
        create_client = core.create_client

        def kms_client(service, *a, **kw):
            if service == "kms" and endpoint():
                kw["endpoint_url"] = endpoint()
            return create_client(service, *a, **kw)

        core.create_client = kms_client
        return StrictAwsKmsMasterKeyProvider(key_ids=[args.kms_key], botocore_session=core)
    with open(args.key_file, "rb") as f:
        key = f.read()
    return RawMasterKey(provider_id=args.namespace, key_id=args.name.encode(),
                        wrapping_key=WrappingKey(wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
                                                 wrapping_key=key, wrapping_key_type=EncryptionKeyType.SYMMETRIC))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["encrypt", "decrypt", "create-kms-key"])
    parser.add_argument("--key-file")
    parser.add_argument("--namespace", default="coffer-local")
    parser.add_argument("--name", default="default")
    parser.add_argument("--kms-key")
    parser.add_argument("--alias")
    parser.add_argument("--context", action="append", default=[])
    parser.add_argument("--frame-length", type=int, default=65536)
    parser.add_argument("--suite", choices=["committing", "signed"], default="committing")
    parser.add_argument("--in", dest="input")
    parser.add_argument("--out")
    parser.add_argument("--s3-in")
    parser.add_argument("--s3-out")
    args = parser.parse_args()

    if args.command == "create-kms-key":
        kms = boto3.client("kms", endpoint_url=endpoint(), region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
        arn = kms.create_key(Description="coffer test key")["KeyMetadata"]["Arn"]
        if args.alias:
            kms.create_alias(AliasName=args.alias, TargetKeyId=arn)
        print(arn)
        return 0

    context = dict(pair.split("=", 1) for pair in args.context)
    client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    s3 = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3"),
                      region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    if args.s3_in:
        bucket, key = args.s3_in.split("/", 1)
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    else:
        with open(args.input, "rb") as f:
            data = f.read()
    if args.command == "encrypt":
        suite = (Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY if args.suite == "committing"
                 else Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384)
        result, _ = client.encrypt(source=data, key_provider=provider(args), encryption_context=context,
                                   frame_length=args.frame_length, algorithm=suite)
    else:
        result, header = client.decrypt(source=data, key_provider=provider(args))
        for key, value in context.items():
            if header.encryption_context.get(key) != value:
                print(f"encryption context lacks {key}={value}: {header.encryption_context}", file=sys.stderr)
                return 3
    if args.s3_out:
        bucket, key = args.s3_out.split("/", 1)
        s3.put_object(Bucket=bucket, Key=key, Body=result)
    else:
        with open(args.out, "wb") as f:
            f.write(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
