"""adapters/aws.py: botocore's errors, planted, leave as our tree; clients get one retry policy;
importing the seam imports no boto3."""
from __future__ import annotations

import subprocess
import sys

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from cato_migrate.adapters import aws
from cato_migrate.errors import BadInput, Conflict, ExternalError, NotFound


def client_error(code: str, message: str = "said so", status: int = 400, **extra) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status}, **extra}, "AnOperation")


def mapped(exc: BaseException, **kw) -> BaseException:
    with pytest.raises(BaseException) as caught:
        with aws.aws_errors("Svc op", **kw):
            raise exc
    return caught.value


@pytest.mark.parametrize("code,kind", [
    ("ResourceNotFoundException", NotFound), ("RepositoryNotFoundException", NotFound),
    ("ImageNotFoundException", NotFound), ("ConflictException", Conflict), ("ResourceInUseException", Conflict),
    ("BadRequestException", BadInput), ("ValidationException", BadInput), ("InvalidParameterException", BadInput)])
def test_the_default_codes(code, kind):
    err = mapped(client_error(code))
    assert type(err) is kind and "said so" in err.message and err.details["code"] == code
    assert isinstance(err.__cause__, ClientError)


@pytest.mark.parametrize("code", sorted(aws.CREDENTIAL_CODES))
def test_credentials_codes_name_credentials(code):
    err = mapped(client_error(code), credentials_hint="check the role")
    assert type(err) is ExternalError and code in err.message and err.hint == "check the role"


def test_anything_else_failed_after_retries_with_the_code():
    err = mapped(client_error("ThrottlingException", "slow down", 400), hint="h", details={"table": "t"})
    assert type(err) is ExternalError
    assert err.message == "Svc op failed after retries: ThrottlingException slow down"
    assert err.hint == "h" and err.details == {"table": "t", "code": "ThrottlingException"}


def test_adapter_codes_and_hints_win_over_the_default():
    err = mapped(client_error("LimitExceededException"), codes={"LimitExceededException": Conflict},
                 hints={Conflict: "wait and re-run"})
    assert type(err) is Conflict and err.hint == "wait and re-run"
    # an adapter may keep a default-BadInput code an ExternalError (DynamoDB's ValidationException)
    err = mapped(client_error("ValidationException"), codes=aws.DYNAMODB_CODES)
    assert type(err) is ExternalError and "failed after retries: ValidationException" in err.message


def test_special_sees_the_answer_first_and_none_falls_through():
    class Refused(Exception):
        pass

    seen = []

    def special(f: aws.AwsFailure):
        seen.append(f)
        return Refused(f.response.get("Item")) if f.code == "ConditionalCheckFailedException" else None

    err = mapped(client_error("ConditionalCheckFailedException", Item={"pk": {"S": "x"}}), special=special)
    assert isinstance(err, Refused) and err.args == ({"pk": {"S": "x"}},)
    assert type(mapped(client_error("ResourceNotFoundException", status=404), special=special)) is NotFound
    assert (seen[-1].code, seen[-1].status) == ("ResourceNotFoundException", 404)


def test_a_read_timeout_says_it_may_have_been_applied():
    err = mapped(ReadTimeoutError(endpoint_url="http://x"), read_timeout=1.5, max_attempts=2, timeout_hint="read back")
    assert type(err) is ExternalError and err.hint == "read back"
    assert "timed out: no answer within 1.5 s after 2 attempt(s); AWS may have carried it out" in err.message


def test_unreachable_names_the_endpoint():
    err = mapped(EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), endpoint="http://127.0.0.1:9")
    assert type(err) is ExternalError and "cannot reach http://127.0.0.1:9" in err.message
    assert "sandbox up" in err.hint
    assert "cannot reach AWS" in mapped(EndpointConnectionError(endpoint_url="u")).message


def test_other_exceptions_pass_untouched():
    assert type(mapped(KeyError("x"))) is KeyError


def test_clients_share_one_policy_and_are_cached(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    clients = aws.AwsClients(region="us-east-1", endpoint_url="http://127.0.0.1:9", max_attempts=3, read_timeout=7)
    c = clients.get("dynamodb")
    assert c is clients.get("dynamodb") and c is not clients.get("dynamodb", region="eu-west-1")
    cfg = c.meta.config
    assert cfg.retries == {"mode": "standard", "total_max_attempts": 3}
    assert (cfg.connect_timeout, cfg.read_timeout) == (5.0, 7)
    assert clients.get("dynamodb", max_attempts=1).meta.config.retries["total_max_attempts"] == 1
    assert clients.get("sts", endpoint_url="http://127.0.0.1:8").meta.endpoint_url == "http://127.0.0.1:8"
    err = mapped(ReadTimeoutError(endpoint_url="u"), **{})
    assert "no answer (" in err.message
    with pytest.raises(ExternalError, match="within 7 s after 3 attempt"):
        with clients.errors("Svc op"):
            raise ReadTimeoutError(endpoint_url="u")


def test_importing_the_seam_and_the_adapters_imports_no_boto3():
    code = ("import sys; from cato_migrate.adapters import aws, appconfig, container_registry, dynamodb_store, "
            "dynamodb_tables, opensearch_serverless, sagemaker_endpoints, doctor_probes; "
            "sys.exit(1 if 'boto3' in sys.modules or 'botocore' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
