"""What cli/tests/archive_cli.rs asks of the S3 server, through boto3 (an S3 client that is not
the one under test). One command per run; prints one JSON object.

  s3_check.py ENDPOINT create-bucket BUCKET            a bucket with Object Lock enabled
  s3_check.py ENDPOINT objects BUCKET PREFIX           every object version: lock, hold, checksum
  s3_check.py ENDPOINT tamper BUCKET KEY               try to delete and to overwrite each version
  s3_check.py ENDPOINT copy BUCKET FROM TO NAME...     copy objects (an interrupted run's leftovers)
  s3_check.py ENDPOINT put BUCKET KEY TEXT             write an object as an attacker would
"""

import json
import sys

import boto3
import botocore.exceptions


def client(endpoint):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def main(argv):
    endpoint, command, bucket, *rest = argv
    s3 = client(endpoint)
    if command == "create-bucket":
        s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
        print(json.dumps({"created": bucket}))
    elif command == "objects":
        (prefix,) = rest
        out = []
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for v in page.get("Versions", []):
                # moto 5.2's GetObjectRetention answers 500: HeadObject carries the lock too.
                head = s3.head_object(
                    Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"], ChecksumMode="ENABLED"
                )
                until = head.get("ObjectLockRetainUntilDate")
                out.append(
                    {
                        "key": v["Key"],
                        "version": v["VersionId"],
                        "size": v["Size"],
                        "mode": head.get("ObjectLockMode"),
                        "retain_until": until.isoformat() if until else None,
                        "legal_hold": head.get("ObjectLockLegalHoldStatus"),
                        "checksum_sha256": head.get("ChecksumSHA256"),
                    }
                )
        print(json.dumps({"objects": out}))
    elif command == "tamper":
        (key,) = rest
        versions = [
            v["VersionId"]
            for v in s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
            if v["Key"] == key
        ]
        result = {"versions": len(versions), "deleted": [], "refused": []}
        for vid in versions:
            try:
                s3.delete_object(Bucket=bucket, Key=key, VersionId=vid)
                result["deleted"].append(vid)
            except botocore.exceptions.ClientError as e:
                result["refused"].append(e.response["Error"]["Code"])
        # An overwrite in a versioned bucket adds a version; the locked one must stay, unchanged.
        before = s3.get_object(Bucket=bucket, Key=key, VersionId=versions[0])["Body"].read()
        s3.put_object(Bucket=bucket, Key=key, Body=b"overwritten")
        after = s3.get_object(Bucket=bucket, Key=key, VersionId=versions[0])["Body"].read()
        result["locked_version_unchanged"] = before == after
        print(json.dumps(result))
    elif command == "copy":
        source, target, *names = rest
        for name in names:
            body = s3.get_object(Bucket=bucket, Key=source + name)["Body"].read()
            s3.put_object(Bucket=bucket, Key=target + name, Body=body)
        print(json.dumps({"copied": names}))
    elif command == "put":
        key, text = rest
        s3.put_object(Bucket=bucket, Key=key, Body=text.encode())
        print(json.dumps({"put": key}))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv[1:])
