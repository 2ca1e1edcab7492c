"""orchestrator/sigv4.py signs exactly as botocore's SigV4Auth: same headers, same signature."""
from __future__ import annotations

import datetime
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from orchestrator import sigv4

NOW = datetime.datetime(2026, 12, 6, 21, 4, 5)

CASES = [
    # (method, url, body, headers, token)
    ("POST", "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
     b'{"messages": []}', {"Content-Type": "application/json"}, None),
    ("POST", "https://bedrock-runtime.us-east-1.amazonaws.com/model/a%3Ab/converse-stream",
     b"{}", {"Content-Type": "application/json", "Accept": "application/vnd.amazon.eventstream"}, "SESSIONTOKEN"),
    ("POST", "http://127.0.0.1:41889/", b'{"TableName": "t"}',
     {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.PutItem"}, None),
    ("POST", "http://localhost:80/", b"", {"X-Amz-Target": "DynamoDB_20120810.Query"}, "tok"),
    ("POST", "https://runtime.sagemaker.eu-west-1.amazonaws.com:443/endpoints/cato-7b/invocations",
     b"\xe2\x98\x83 snow", {"Content-Type": "application/json", "User-Agent": "x", "Expect": "100-continue"}, None),
    ("GET", "https://dynamodb.us-east-1.amazonaws.com/a/./b/../c//d/?b=2&a=1&a=0", b"",
     {"X-Custom": "  spaced   out  value "}, None),
    ("POST", "http://[::1]:8000/path%20with%20space~x", b"x", {"Content-Type": "text/plain"}, None),
]


def _botocore(method, url, body, headers, token, region, service):
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW):
        SigV4Auth(Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token),
                  service, region).add_auth(request)
    return dict(request.headers.items())


@pytest.mark.parametrize("method,url,body,headers,token", CASES)
@pytest.mark.parametrize("region,service", [("us-east-1", "bedrock"), ("eu-west-1", "dynamodb")])
def test_same_headers_as_botocore(method, url, body, headers, token, region, service):
    ours = sigv4.sign(method, url, body, headers, access_key="AKIDEXAMPLE",
                      secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token=token, region=region,
                      service=service, now=NOW)
    assert ours == _botocore(method, url, body, headers, token, region, service)


def test_a_changed_body_or_day_changes_the_signature():
    kw = dict(access_key="A", secret_key="S", token=None, region="us-east-1", service="dynamodb")
    base = sigv4.sign("POST", "http://h/", b"{}", {}, now=NOW, **kw)["Authorization"]
    assert sigv4.sign("POST", "http://h/", b"{ }", {}, now=NOW, **kw)["Authorization"] != base
    later = NOW + datetime.timedelta(days=1)
    other_day = sigv4.sign("POST", "http://h/", b"{}", {}, now=later, **kw)["Authorization"]
    assert other_day != base and "20261207/us-east-1/dynamodb" in other_day


def test_stale_auth_headers_are_replaced_not_doubled():
    signed = sigv4.sign("POST", "http://h/", b"", {"Authorization": "old", "X-Amz-Date": "19700101T000000Z"},
                        access_key="A", secret_key="S", token=None, region="r", service="s", now=NOW)
    assert signed["X-Amz-Date"] == "20261206T210405Z" and signed["Authorization"].startswith("AWS4-HMAC-SHA256 ")
    assert list(signed).count("Authorization") == 1


def test_a_date_header_is_refused_rather_than_signed_differently_from_botocore():
    with pytest.raises(ValueError, match="Date"):
        sigv4.sign("POST", "http://h/", b"", {"Date": "x"}, access_key="A", secret_key="S", token=None,
                   region="r", service="s", now=NOW)
