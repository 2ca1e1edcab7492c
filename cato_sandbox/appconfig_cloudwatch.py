"""The sandbox AppConfig layer reading CloudWatch alarms from moto, as AppConfig reads them on AWS.

One ``DescribeAlarms`` per (region, account) over moto's HTTP endpoint, in CloudWatch's query
protocol (form-encoded request, XML answer), which moto serves beside the CBOR/JSON protocols
newer botocore speaks. moto picks the service and region from the request's SigV4 credential
scope and the account from ``x-moto-account-id``; it checks no signature, so none is computed.
"""

from __future__ import annotations

import http.client
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import datetime
from urllib.parse import urlencode, urlsplit

from cato_sandbox.appconfig_monitors import AlarmReading, alarm_place
from cato_sandbox.appconfig_moto import Internal

_NS = "{http://monitoring.amazonaws.com/doc/2010-08-01/}"


class CloudWatchAlarms:
    def __init__(self, moto_url: str, timeout: float = 10.0) -> None:
        u = urlsplit(moto_url)
        self.host, self.port, self.timeout = u.hostname or "127.0.0.1", u.port or 80, timeout

    def read(self, arns: list[str]) -> dict[str, AlarmReading]:
        """A reading per ARN; an alarm moto does not have is ``found=False``."""
        groups: dict[tuple[str, str], list[str]] = defaultdict(list)
        for arn in arns:
            region, account, _ = alarm_place(arn)
            groups[(region, account)].append(arn)
        out: dict[str, AlarmReading] = {}
        for (region, account), group in groups.items():
            seen = self._describe(region, account, [alarm_place(a)[2] for a in group])
            for arn in group:
                out[arn] = seen.get(arn) or AlarmReading(arn, found=False)
        return out

    def _describe(self, region: str, account: str, names: list[str]) -> dict[str, AlarmReading]:
        found: dict[str, AlarmReading] = {}
        token = None
        while True:
            form = {"Action": "DescribeAlarms", "Version": "2010-08-01", "AlarmTypes.member.1": "MetricAlarm",
                    "AlarmTypes.member.2": "CompositeAlarm",
                    **{f"AlarmNames.member.{i}": n for i, n in enumerate(sorted(set(names)), 1)},
                    **({"NextToken": token} if token else {})}
            root = self._post(region, account, urlencode(form).encode())
            for member in root.iter(f"{_NS}member"):
                arn = member.findtext(f"{_NS}AlarmArn")
                if arn is None or member.findtext(f"{_NS}StateValue") is None:
                    continue  # a nested list member (actions, dimensions), not an alarm
                found[arn] = AlarmReading(
                    arn, True, member.findtext(f"{_NS}StateValue") or "INSUFFICIENT_DATA",
                    _unix(member.findtext(f"{_NS}StateUpdatedTimestamp")),
                    (member.findtext(f"{_NS}ActionsEnabled") or "true").lower() == "true")
            token = root.findtext(f"{_NS}DescribeAlarmsResult/{_NS}NextToken")
            if not token:
                return found

    def _post(self, region: str, account: str, body: bytes) -> ET.Element:
        headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                   "Authorization": f"AWS4-HMAC-SHA256 Credential=sandbox/20200101/{region}/monitoring/aws4_request, "
                                    "SignedHeaders=host, Signature=0",
                   "x-moto-account-id": account}
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request("POST", "/", body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except OSError as e:
            raise Internal(f"cannot read the monitors' CloudWatch alarms from moto: {e}") from e
        finally:
            conn.close()
        if resp.status != 200:
            raise Internal(f"CloudWatch DescribeAlarms in moto answered {resp.status}: {data[:200]!r}")
        try:
            return ET.fromstring(data)
        except ET.ParseError as e:
            raise Internal(f"CloudWatch DescribeAlarms in moto answered no XML: {data[:200]!r}") from e


def _unix(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
