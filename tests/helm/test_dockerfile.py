"""The Dockerfile, linted by parsing it: multi-stage, slim base, non-root, no build tools, no secrets.

There is no container engine in the test environment, so these checks read the instructions themselves.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

BUILD_TOOLS = re.compile(r"\b(gcc|g\+\+|clang|build-essential|make|cmake|python3?-dev|libc6?-dev|rustc)\b")
SECRET_NAME = re.compile(r"(?i)(password|secret|token|api_?key|private_?key|credential)")


@dataclass
class Stage:
    """One FROM stage: its base, name and instructions (keyword, argument), continuation lines joined."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        """Arguments of every ``keyword`` instruction of this stage."""
        return [argument for key, argument in self.instructions if key == keyword]


def instructions(text: str) -> list[tuple[str, str]]:
    """Dockerfile instructions with comments dropped and ``\\`` continuations joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = pending + line
        pending = ""
        keyword, _, argument = full.partition(" ")
        out.append((keyword.upper(), argument.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages."""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for keyword, argument in instructions(text):
        if keyword == "FROM":
            words = argument.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m[1], m[0]), words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base, name))
        elif not stages:
            assert keyword == "ARG", f"{keyword} before the first FROM"
            name, _, default = argument.partition("=")
            args[name] = default
        else:
            stages[-1].instructions.append((keyword, argument))
    return args, stages


@pytest.fixture(scope="module")
def dockerfile(repo_root: Path) -> tuple[dict[str, str], list[Stage]]:
    """The parsed Dockerfile."""
    return parse((repo_root / "Dockerfile").read_text(encoding="utf-8"))


def test_multi_stage_on_slim_python(dockerfile: tuple[dict[str, str], list[Stage]]) -> None:
    args, stages = dockerfile
    assert args["PYTHON_IMAGE"] == "python:3.11-slim"
    assert len(stages) >= 2
    assert all(stage.base == "python:3.11-slim" for stage in stages)
    final = stages[-1]
    sources = [re.search(r"--from=(\S+)", copy) for copy in final.all("COPY")]
    assert sources, "the final stage copies the build's result"
    assert all(match is not None and match[1] == stages[0].name for match in sources)


def test_final_stage_runs_as_10001(dockerfile: tuple[dict[str, str], list[Stage]]) -> None:
    final = dockerfile[1][-1]
    users = final.all("USER")
    assert users
    assert users[-1].split(":")[0] == "10001"
    assert any("--uid 10001" in run for run in final.all("RUN"))


def test_no_build_tools_in_the_final_stage(dockerfile: tuple[dict[str, str], list[Stage]]) -> None:
    final = dockerfile[1][-1]
    for run in final.all("RUN"):
        assert not BUILD_TOOLS.search(run), run
        assert "pip install" not in run  # everything comes prebuilt from the build stage


def test_the_build_stage_compiles_and_checks_the_result(
    dockerfile: tuple[dict[str, str], list[Stage]],
) -> None:
    build = dockerfile[1][0]
    assert build.all("ARG") == ["PUBLISHER_COMPILE=1"]  # the compiled build unless asked otherwise
    runs = " ".join(build.all("RUN"))
    assert BUILD_TOOLS.search(runs)  # the compiler lives in this stage only (see the final-stage test)
    assert any("setup.py" in copy.split() for copy in build.all("COPY"))
    assert 'grep -q "($([ "$PUBLISHER_COMPILE" = "1" ] && echo compiled || echo interpreted))"' in runs


def test_entrypoint_and_default_command(dockerfile: tuple[dict[str, str], list[Stage]]) -> None:
    final = dockerfile[1][-1]
    assert [json.loads(e) for e in final.all("ENTRYPOINT")] == [["netstream-publisher"]]
    assert [json.loads(c) for c in final.all("CMD")] == [["run"]]
    assert final.all("EXPOSE") == ["8080"]


def test_healthcheck_absent_or_on_healthz(dockerfile: tuple[dict[str, str], list[Stage]]) -> None:
    for stage in dockerfile[1]:
        for check in stage.all("HEALTHCHECK"):
            assert check.strip().upper() == "NONE" or "/healthz" in check


def test_no_secrets_baked_in(dockerfile: tuple[dict[str, str], list[Stage]]) -> None:
    args, stages = dockerfile
    names = list(args)
    for stage in stages:
        names.extend(argument.partition("=")[0] for argument in stage.all("ARG"))
        for argument in stage.all("ENV"):
            names.extend(re.findall(r"(\w+)=", argument))
    assert names
    assert [name for name in names if SECRET_NAME.search(name)] == []


def test_parser_catches_what_the_rules_forbid() -> None:
    _, stages = parse(
        "ARG PYTHON_IMAGE=python:3.11-slim\n"
        "FROM ${PYTHON_IMAGE}\n"
        "ENV NETSTREAM_CLIENT_SECRET=x\n"
        "RUN apt-get update \\\n"
        "  && apt-get install -y build-essential\n"
        "USER root\n"
    )
    (stage,) = stages
    assert stage.base == "python:3.11-slim"
    assert BUILD_TOOLS.search(stage.all("RUN")[0])
    assert SECRET_NAME.search(stage.all("ENV")[0])
    assert stage.all("USER") == ["root"]


def test_dockerignore_keeps_local_state_out(repo_root: Path) -> None:
    ignored = {
        line.strip()
        for line in (repo_root / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".tools", "tests", "**/__pycache__", ".env"} <= ignored
    for needed in ("pyproject.toml", "setup.py", "README.md", "publisher", "schemas"):
        assert needed not in ignored
