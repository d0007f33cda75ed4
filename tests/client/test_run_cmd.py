"""``agent-app-server run`` end to end: commands through ``command/exec``, their output streamed,
their exit code ours, and the ``--junit`` report.

The report is checked against the rules of the JUnit XML schema CI servers read (Jenkins'
``junit-10.xsd``, the Surefire format): ``testsuites`` > ``testsuite`` (``name``, ``tests``,
``failures``, ``errors`` required) > ``testcase`` (``name`` required) whose children are only
``failure`` / ``error`` / ``skipped`` / ``system-out`` / ``system-err``, times in the schema's
``SUREFIRE_TIME`` pattern, and counts that agree with the cases. (No XSD validator or schema file
ships with the project, so the rules are written out here.)
"""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

from support.cli_process import cli
from support.ws_client import Spawner

SUREFIRE_TIME = re.compile(r"(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?")
ATTRIBUTES = {
    "testsuites": ({"name", "time", "tests", "failures", "errors"}, set()),
    "testsuite": (
        {"name", "tests", "failures", "errors", "group", "time", "skipped", "timestamp", "hostname", "id", "package"},
        {"name", "tests", "failures", "errors"},
    ),
    "testcase": ({"name", "time", "classname", "group"}, {"name"}),
    "failure": ({"type", "message"}, set()),
    "error": ({"type", "message"}, set()),
    "skipped": ({"type", "message"}, set()),
    "system-out": (set(), set()),
    "system-err": (set(), set()),
}
CHILDREN = {
    "testsuites": {"testsuite"},
    "testsuite": {"testsuite", "properties", "testcase", "system-out", "system-err"},
    "testcase": {"skipped", "error", "failure", "system-out", "system-err"},
}


def check_junit(element: ElementTree.Element) -> None:
    allowed, required = ATTRIBUTES[element.tag]
    assert set(element.attrib) <= allowed, f"{element.tag}: unexpected {set(element.attrib) - allowed}"
    assert required <= set(element.attrib), f"{element.tag}: missing {required - set(element.attrib)}"
    if "time" in element.attrib:
        assert SUREFIRE_TIME.fullmatch(element.attrib["time"]), element.attrib["time"]
    for child in element:
        assert child.tag in CHILDREN.get(element.tag, set()), f"{child.tag} inside {element.tag}"
        check_junit(child)
    if element.tag == "testsuite":
        cases = element.findall("testcase")
        assert int(element.attrib["tests"]) == len(cases)
        assert int(element.attrib["failures"]) == sum(1 for c in cases if c.find("failure") is not None)
        assert int(element.attrib["errors"]) == sum(1 for c in cases if c.find("error") is not None)


async def test_the_exit_code_and_output_are_the_commands(home: Path, workspace: Path) -> None:
    ran = await cli(home, "run", "--", "sh", "-c", "echo out; echo err >&2; exit 3", cwd=workspace)
    assert ran.code == 3
    assert ran.stdout == "out\n" and "err\n" in ran.stderr


async def test_junit_report_one_case_per_command(home: Path, workspace: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.xml"
    ran = await cli(
        home,
        "run",
        "--junit",
        str(report),
        "--",
        "sh",
        "-c",
        "printf 'ok <&> \\001\\n'",
        "--",
        "sh",
        "-c",
        "echo bad >&2; exit 2",
        cwd=workspace,
    )
    assert ran.code == 2, ran.stderr
    root = ElementTree.parse(report).getroot()
    assert root.tag == "testsuites"
    check_junit(root)
    (suite,) = root.findall("testsuite")
    first, second = suite.findall("testcase")
    assert first.attrib["name"] == "sh -c printf 'ok <&> \\001\\n'"
    assert first.find("failure") is None and first.findtext("system-out") == "ok <&> \n"
    failure = second.find("failure")
    assert failure is not None and failure.attrib["message"] == "exit code 2"
    assert second.findtext("system-err") == "bad\n"
    assert (suite.attrib["tests"], suite.attrib["failures"], suite.attrib["errors"]) == ("2", "1", "0")


async def test_timeout_stops_the_command(home: Path, workspace: Path) -> None:
    ran = await cli(home, "run", "--timeout", "0.5", "--", "sleep", "30", cwd=workspace)
    assert ran.code == 124
    assert "was stopped after --timeout 0.5s" in ran.stderr


async def test_the_sandbox_applies(home: Path, workspace: Path) -> None:
    ran = await cli(home, "run", "--sandbox", "read-only", "--", "sh", "-c", "echo x > made.txt", cwd=workspace)
    assert ran.code != 0
    assert not (workspace / "made.txt").exists()
    ran = await cli(home, "run", "--sandbox", "workspace-write", "--", "sh", "-c", "echo x > made.txt", cwd=workspace)
    assert ran.code == 0, ran.stderr
    assert (workspace / "made.txt").read_text() == "x\n"


async def test_no_command_is_a_usage_error(home: Path) -> None:
    ran = await cli(home, "run")
    assert ran.code == 2 and "no command given" in ran.stderr
    ran = await cli(home, "run", "--timeout", "0", "--", "true")
    assert ran.code == 2 and "--timeout must be positive" in ran.stderr


async def test_remote(home: Path, workspace: Path, ws_spawn: Spawner) -> None:
    server = await ws_spawn()
    ran = await cli(home, "run", "--remote", server.url, "--", "sh", "-c", "echo remote; exit 5", cwd=workspace)
    assert ran.code == 5 and ran.stdout == "remote\n"
