"""The runtime dependencies a result records: followed from what the grader declares, markers
evaluated, no extra taken; and every new result, graded or rejected, carries their
fingerprint."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from grader.cli.main import main
from grader.result import build, dependencies


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    dependencies.runtime.cache_clear()
    yield
    dependencies.runtime.cache_clear()  # the next test reads the real environment again


@dataclass
class FakeDist:
    name: str
    version: str
    requires: list[str] = field(default_factory=list)

    def read_text(self, filename: str) -> str | None:
        if filename != "METADATA":
            return None
        head = [f"Metadata-Version: 2.4\nName: {self.name}\nVersion: {self.version}"]
        head += [f"Requires-Dist: {line}" for line in self.requires]
        # the long description: not headers, whatever it says
        return "\n".join(head) + "\n\nVersion: 0.0.1\nRequires-Dist: trap\n"


def installed(monkeypatch: pytest.MonkeyPatch, *dists: FakeDist) -> None:
    by_name = {canonicalize_name(d.name): d for d in dists}

    def distribution(name: str) -> FakeDist:
        try:
            return by_name[canonicalize_name(name)]
        except KeyError:
            raise metadata.PackageNotFoundError(name) from None

    monkeypatch.setattr(metadata, "distribution", distribution)


def test_the_set_follows_what_the_grader_needs_and_no_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    installed(
        monkeypatch,
        FakeDist(
            "TinyTorch_Olympics-Grader",  # names compare canonicalised, as pip compares them
            "0.2.0",
            [
                "numpy>=1.24",
                "Jsonschema[format-nongpl]>=4.18",
                "tomli; python_version < '3'",  # a marker false here
                "PyGithub>=2.6; extra == 'github'",  # an extra: not the runtime's
                "gone>=1",
            ],
        ),
        FakeDist("numpy", "2.4.6"),
        FakeDist(
            "jsonschema",
            "4.26.0",
            ["attrs>=22", "fqdn; extra == 'format-nongpl'", "idna; extra == 'format'"],
        ),
        FakeDist("attrs", "26.1.0", ["attrs[tests]; extra == 'dev'"]),
        FakeDist("fqdn", "1.5.1"),
        FakeDist("idna", "3.20"),  # installed, but only for an extra nobody asked for
        FakeDist("pygithub", "2.10.0"),
        FakeDist("tomli", "2.5.0"),
    )
    assert dependencies.runtime() == {
        "attrs": "26.1.0",
        "fqdn": "1.5.1",  # jsonschema's extra that the grader asks for
        "gone": dependencies.MISSING,
        "jsonschema": "4.26.0",
        "numpy": "2.4.6",
    }
    lines = "attrs==26.1.0\nfqdn==1.5.1\ngone==(not installed)\njsonschema==4.26.0\nnumpy==2.4.6\n"
    assert dependencies.fingerprint() == hashlib.sha256(lines.encode()).hexdigest()


def test_another_version_is_another_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    project = FakeDist(dependencies.PROJECT, "0.2.0", ["numpy"])
    installed(monkeypatch, project, FakeDist("numpy", "2.4.6"))
    before = dependencies.fingerprint()
    dependencies.runtime.cache_clear()
    installed(monkeypatch, project, FakeDist("numpy", "2.5.5"))
    assert dependencies.fingerprint() != before


def test_a_grader_that_is_not_installed_has_no_fingerprint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    installed(monkeypatch, FakeDist("numpy", "2.4.6"))
    assert dependencies.runtime() is None
    assert dependencies.fingerprint() is None


def test_this_environment_s_set_is_the_runtime_s_only() -> None:
    resolved = dependencies.runtime()
    assert resolved is not None, "the grader is not installed: see the README's commands"
    assert {"numpy", "scipy", "matplotlib", "contourpy", "referencing", "packaging"} <= set(
        resolved
    )  # declared, and under what is declared (matplotlib's, jsonschema's)
    assert not {"pytest", "pygithub", "zizmor", "setuptools", dependencies.PROJECT} & set(
        resolved
    )  # the extras', the build's, the grader itself
    assert all(resolved[name] == metadata.version(name) for name in resolved)
    assert len(dependencies.fingerprint() or "") == 64


def test_a_new_grade_records_the_fingerprint(tmp_path: Path) -> None:
    # A rejection is the quickest complete grade (nothing runs); graded results start from
    # the same header (build.header, through grade.skeleton), and tests/test_private.py grades
    # for real.
    folder = tmp_path / "submissions" / "no-config"
    folder.mkdir(parents=True)
    out = tmp_path / "out.json"
    code = main(["grade", str(folder), "--json", str(out)], io.StringIO(), io.StringIO())
    assert code == 2
    doc = json.loads(out.read_text())
    assert doc["grader"]["dependencies_sha256"] == dependencies.fingerprint()
    assert build.header()["grader"]["dependencies_sha256"] == dependencies.fingerprint()
