"""Reads a run's reports as their real consumers do: the JSON report validated against
docs/report.schema.json with jsonschema, the JUnit XML parsed with junitparser.

Usage: check_reports.py SCHEMA REPORT.json JUNIT.xml
Prints one JSON object: what was found.
"""
import json
import sys

import jsonschema
from junitparser import JUnitXml

schema_path, report_path, junit_path = sys.argv[1:4]
with open(schema_path) as f:
    schema = json.load(f)
with open(report_path) as f:
    report = json.load(f)
jsonschema.validate(report, schema)

xml = JUnitXml.fromfile(junit_path)
suites = list(xml)
cases = [case for suite in suites for case in suite]
failed = sorted(
    case.name for case in cases if any(r._tag == "failure" for r in case.result)
)
skipped = sum(1 for case in cases if any(r._tag == "skipped" for r in case.result))
print(json.dumps({
    "verdict": report["verdict"],
    "suites": len(suites),
    "cases": len(cases),
    "failed": failed,
    "skipped": skipped,
}))
