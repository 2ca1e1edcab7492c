"""Planted AWS faults on the sandbox's AppConfig and DynamoDB layers (`/_cato/faults`) reach
unchanged boto3 as AWS's own would: the right error codes and statuses, classified by botocore's
standard retry mode as throttling / transient, retried, and timeouts as read timeouts."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from types import SimpleNamespace

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.retries.standard import RetryContext, StandardRetryConditions, ThrottlingErrorDetector

from cato_sandbox.appconfig_routes import operation_of
from tests import aws_faults
from tests.dynamodb_layer_fixture import dynamodb_layer  # noqa: F401 (fixture)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def client(service: str, url: str, attempts: int = 1, read_timeout: float = 10, region: str = "us-east-1"):
    return boto3.client(service, endpoint_url=url, region_name=region,
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"mode": "standard", "total_max_attempts": attempts},
                                      read_timeout=read_timeout, connect_timeout=2))


def failure(call) -> ClientError:
    with pytest.raises(ClientError) as exc:
        call()
    return exc.value


def classified(c, op: str, err: ClientError) -> tuple[bool, bool]:
    """(throttling?, retryable?) as botocore's standard retry mode sees this error."""
    status = SimpleNamespace(status_code=err.response["ResponseMetadata"]["HTTPStatusCode"])
    ctx = RetryContext(attempt_number=1, operation_model=c.meta.service_model.operation_model(op),
                       parsed_response=err.response, http_response=status)
    return (ThrottlingErrorDetector(None).is_throttling_error_from_context(ctx),
            StandardRetryConditions(max_attempts=3).is_retryable(ctx))


# -- AppConfig (REST-JSON) ---------------------------------------------------------------------------
def test_appconfig_throttle_is_a_429_throttling_exception_botocore_retries(appconfig_layer):
    ac = client("appconfig", appconfig_layer)
    with aws_faults.cleared(appconfig_layer):
        aws_faults.plant(appconfig_layer, "ListDeploymentStrategies", "throttle")
        err = failure(ac.list_deployment_strategies)
        assert err.response["Error"]["Code"] == "ThrottlingException"
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert "sandbox fault" in err.response["Error"]["Message"]
        assert classified(ac, "ListDeploymentStrategies", err) == (True, True)


def test_appconfig_transient_throttle_is_retried_and_the_layer_counts_it(appconfig_layer):
    ac = client("appconfig", appconfig_layer, attempts=3)
    with aws_faults.cleared(appconfig_layer):
        aws_faults.plant(appconfig_layer, "ListDeploymentStrategies", "throttle", count=2)
        out = ac.list_deployment_strategies()
        assert out["ResponseMetadata"]["RetryAttempts"] == 2
        rep = aws_faults.report(appconfig_layer)
        assert rep["seen"]["ListDeploymentStrategies"] == 3
        assert rep["injected"] == {"ListDeploymentStrategies": {"throttle": 2}}
        assert rep["faults"] == [] and rep["spent"][0]["count"] == 0


def test_appconfig_5xx_is_an_internal_server_exception_retried_until_attempts_run_out(appconfig_layer):
    ac = client("appconfig", appconfig_layer, attempts=2)
    with aws_faults.cleared(appconfig_layer):
        aws_faults.plant(appconfig_layer, "*", "5xx")
        err = failure(ac.list_deployment_strategies)
        assert err.response["Error"]["Code"] == "InternalServerException"
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert err.response["ResponseMetadata"]["RetryAttempts"] == 1
        assert classified(ac, "ListDeploymentStrategies", err) == (False, True)
        with urllib.request.urlopen(appconfig_layer + "/healthz", timeout=5) as r:  # never faulted
            assert r.status == 200


def test_appconfig_forwarded_and_appconfigdata_operations_are_matched_by_name(appconfig_layer):
    ac, ad = client("appconfig", appconfig_layer, attempts=2), client("appconfigdata", appconfig_layer)
    with aws_faults.cleared(appconfig_layer):
        aws_faults.plant(appconfig_layer, "CreateApplication", "5xx", count=1)  # forwarded to moto
        aws_faults.plant(appconfig_layer, "StartConfigurationSession", "throttle")
        app = ac.create_application(Name="faults")
        assert app["ResponseMetadata"]["RetryAttempts"] == 1
        err = failure(lambda: ad.start_configuration_session(
            ApplicationIdentifier=app["Id"], EnvironmentIdentifier="e", ConfigurationProfileIdentifier="p"))
        assert err.response["Error"]["Code"] == "ThrottlingException"
        assert classified(ad, "StartConfigurationSession", err)[0]
        rep = aws_faults.report(appconfig_layer)
        assert rep["injected"] == {"CreateApplication": {"5xx": 1}, "StartConfigurationSession": {"throttle": 1}}


def test_appconfig_timeout_is_a_read_timeout_retried_then_raised(appconfig_layer):
    ac = client("appconfig", appconfig_layer, attempts=2, read_timeout=0.3)
    with aws_faults.cleared(appconfig_layer):
        aws_faults.plant(appconfig_layer, "GetDeployment", "timeout", delay_seconds=1.0)
        t0 = time.monotonic()
        with pytest.raises(ReadTimeoutError):
            ac.get_deployment(ApplicationId="a", EnvironmentId="e", DeploymentNumber=1)
        assert time.monotonic() - t0 < 10
        assert aws_faults.report(appconfig_layer)["injected"] == {"GetDeployment": {"timeout": 2}}


def test_operation_names_cover_the_calls_the_flag_adapter_makes():
    env = "/applications/a/environments/e"
    hosted = "/applications/a/configurationprofiles/p/hostedconfigurationversions"
    assert operation_of("POST", hosted) == "CreateHostedConfigurationVersion"
    assert operation_of("GET", hosted + "/3") == "GetHostedConfigurationVersion"
    assert operation_of("POST", env + "/deployments") == "StartDeployment"
    assert operation_of("GET", env + "/deployments") == "ListDeployments"
    assert operation_of("GET", env + "/deployments/4") == "GetDeployment"
    assert operation_of("DELETE", env + "/deployments/4") == "StopDeployment"
    assert operation_of("POST", "/configurationsessions") == "StartConfigurationSession"
    assert operation_of("GET", "/configuration") == "GetLatestConfiguration"
    assert operation_of("GET", "/applications") == "ListApplications"
    assert operation_of("GET", "/applications/a/configurationprofiles") == "ListConfigurationProfiles"
    assert operation_of("GET", "/healthz") is None and operation_of("POST", "/moto-api/reset") is None
    assert operation_of("GET", "/something/else") == "?"


BAD_FAULTS = [
    {"operation": "StartDeployment", "kind": "slow"}, {"operation": "", "kind": "5xx"},
    {"operation": "X", "kind": "5xx", "count": 0}, {"operation": "X", "kind": "5xx", "count": -2},
    {"operation": "X", "kind": "timeout", "delay_seconds": 0}, {"operation": "X", "kind": "5xx", "extra": 1},
    [1, 2],
]


def test_admin_endpoint_rejects_bad_faults(appconfig_layer):
    for body in BAD_FAULTS:
        with pytest.raises(urllib.error.HTTPError) as exc:
            aws_faults._call(appconfig_layer, "POST", body)
        assert exc.value.code == 400 and "message" in json.loads(exc.value.read()), body
    assert aws_faults.report(appconfig_layer)["faults"] == []


# -- DynamoDB (JSON 1.0) -----------------------------------------------------------------------------
def _table(c) -> None:
    c.create_table(TableName="f", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                   AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                   BillingMode="PAY_PER_REQUEST")


def test_dynamodb_throttle_and_5xx_parse_as_dynamodb_errors_and_are_retried(dynamodb_layer):
    once, retrying = client("dynamodb", dynamodb_layer), client("dynamodb", dynamodb_layer, attempts=3)
    _table(once)
    with aws_faults.cleared(dynamodb_layer):
        aws_faults.plant(dynamodb_layer, "PutItem", "throttle", count=1)
        err = failure(lambda: once.put_item(TableName="f", Item={"k": {"S": "1"}}))
        assert err.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert classified(once, "PutItem", err) == (True, True)

        aws_faults.plant(dynamodb_layer, "GetItem", "5xx", count=1)
        err = failure(lambda: once.get_item(TableName="f", Key={"k": {"S": "1"}}))
        assert err.response["Error"]["Code"] == "InternalServerError"
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert classified(once, "GetItem", err) == (False, True)

        aws_faults.plant(dynamodb_layer, "PutItem", "5xx", count=2)
        out = retrying.put_item(TableName="f", Item={"k": {"S": "2"}})
        assert out["ResponseMetadata"]["RetryAttempts"] == 2
        assert retrying.get_item(TableName="f", Key={"k": {"S": "2"}})["Item"]["k"]["S"] == "2"
        rep = aws_faults.report(dynamodb_layer)
        assert rep["injected"] == {"PutItem": {"throttle": 1, "5xx": 2}, "GetItem": {"5xx": 1}}
        assert rep["seen"]["PutItem"] == 4 and rep["faults"] == []
