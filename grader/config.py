"""submission.yaml and events.yaml: read, checked, and every problem reported with file:line.

All problems of a file are reported at once, in line order, each naming the file, the line, the
field, what was expected, what was found and how to fix it: a student fixes a config in one round.

This module owns the two files' models, ``Rules`` and ``Submission``, and their loading: each
file is read as YAML with the line of every value (``grader.yamlfile``), checked against its
JSON Schema (``grader.configschema`` explains each error), then, where the schema accepted it,
cross-checked for what a schema cannot express (``grader.crosschecks``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from jsonschema import Draft202012Validator

from grader import configschema, crosschecks, hintchecks
from grader.crosschecks import final_phase
from grader.errors import ConfigError, Violation
from grader.yamlfile import RULES as YAML_RULES
from grader.yamlfile import Report, display_path, load_yaml

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"

# Every rule id a config's violations carry, each with its message and its fix: the YAML
# layer's, the schema's, then the cross-checks'.
RULES: dict[str, tuple[str, str]] = (
    YAML_RULES | configschema.RULES | crosschecks.RULES | hintchecks.RULES
)

_SUBMISSION_FIXES = {
    "team": "use the submission folder's name, e.g. team: speed-demons",
    "members": "list GitHub logins, e.g. members: [octocat, hubot]",
    "workload": "name one workload, e.g. workload: mlp_sprint (`olympics rules` lists them)",
    "events": "list one or more events, each once, e.g. events: [latency_sprint, all_around]",
    "entrypoint": "write file.py:function, e.g. entrypoint: model.py:build_model",
    "techniques": "list lowercase slugs, e.g. techniques: [int8-quantization, pruning]",
    "description": "keep it to one line of at most 500 characters; put the report in README.md",
}

# The fix of a workload's missing key whose kind depends on its protocol (events.yaml).
_RULES_FIXES = {
    "vocab_size": "add `vocab_size: 69` (the ids of grader/data/text.py's vocabulary), or "
    "set protocol: classification",
    "vocab_version": "add `vocab_version: 1` (grader/data/text.py's VOCAB_VERSION)",
    "context": "add `context: 128`: the longest prefix, in tokens, a generation model is given",
    "baseline_perplexity": "add the baseline's answer perplexity on the test split, from its "
    "README, e.g. baseline_perplexity: 8.595",
    "input_shape": "add the shape of one sample, e.g. input_shape: [784], or set "
    "protocol: generation",
    "classes": "add the number of classes, e.g. classes: 10, or set protocol: generation",
}


def project_root() -> Path:
    """``$OLYMPICS_ROOT``, else this package's checkout if it holds events.yaml, else cwd."""
    if env := os.environ.get("OLYMPICS_ROOT"):
        return Path(env)
    checkout = Path(__file__).resolve().parent.parent
    return checkout if (checkout / "events.yaml").is_file() else Path.cwd()


@functools.cache
def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


# ---------------------------------------------------------------- events.yaml


@dataclass(frozen=True)
class Rules:
    """events.yaml as checked data, shared by every stage of a grade."""

    path: Path
    data: dict

    @property
    def is_final(self) -> bool:
        return final_phase(self.data)

    @property
    def events(self) -> dict[str, dict]:
        return self.data["events"]

    @property
    def flags(self) -> list[dict]:
        return self.data["flags"]

    @property
    def workloads(self) -> dict[str, dict]:
        return self.data["workloads"]

    @property
    def datasets(self) -> dict[str, dict]:
        return self.data["datasets"]

    @property
    def imports(self) -> dict[str, Any]:
        return self.data["imports"]

    @property
    def composite_parts(self) -> dict[str, dict]:
        return self.data["composite_parts"]

    @property
    def code_quality(self) -> dict[str, Any]:
        return self.data["code_quality"]

    @property
    def techniques(self) -> dict[str, dict]:
        return self.data["techniques"]

    @property
    def detection(self) -> dict[str, Any]:
        return self.data["detection"]

    @functools.cached_property
    def technique_names(self) -> dict[str, str]:
        """Every name a technique may be claimed by (its own and its aliases) -> its own."""
        names = {}
        for name, technique in self.techniques.items():
            names[name] = name
            for alias in technique["aliases"]:
                names.setdefault(alias, name)
        return names

    @property
    def hints(self) -> list[dict]:
        """The hint rules (none where events.yaml has no ``hints:``)."""
        return self.data.get("hints", [])

    @functools.cached_property
    def sha256(self) -> str:
        """The rules' fingerprint: their data as canonical JSON (comments and layout aside).
        The hints aside: they change no score and are drawn from the rules of the reader, so
        a result stays current when only they change (docs/DESIGN.md, Hints)."""
        scored = {k: v for k, v in self.data.items() if k != "hints"}
        canonical = json.dumps(scored, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


def load_rules(path: Path | None = None) -> Rules:
    """events.yaml checked against its schema, then cross-checked. Raises ConfigError.

    The cross-checks run only on data the schema accepted, so that they may trust its shape.
    """
    path = path or project_root() / "events.yaml"
    data, lines = load_yaml(path)
    report = Report(display_path(path), lines, rules=RULES)
    at_fault = configschema.check(report, _validator("events.schema.json"), data, _RULES_FIXES)
    if not at_fault:
        crosschecks.events_yaml(report, data)
    if report.found:
        problems = report.in_line_order()  # one `required` error per key names them all
        raise ConfigError(f"{report.file}: {len(problems)} problem(s) in the rules", problems)
    return Rules(path=path, data=data)


# ---------------------------------------------------------------- submission.yaml


@dataclass(frozen=True)
class Submission:
    """A checked submission.yaml: every field valid, the entrypoint defined in its file."""

    folder: Path
    config_file: Path
    team: str
    members: tuple[str, ...]
    workload: str
    events: tuple[str, ...]
    entrypoint_file: str  # relative posix path inside the folder
    entrypoint_function: str
    techniques: tuple[str, ...]
    description: str


def _locate(path: Path) -> tuple[Path, Path]:
    """The submission folder and its config file, from either of the two."""
    if path.is_dir() or path.suffix not in (".yaml", ".yml"):
        return path, path / "submission.yaml"
    return path.parent, path


def check_submission(path: Path, rules: Rules) -> tuple[Submission | None, list[Violation]]:
    """The submission and no violations, or None and every violation in line order.

    ``path`` is a submission folder or its submission.yaml.
    """
    folder, config = _locate(path)
    try:
        data, lines = load_yaml(config)
    except ConfigError as exc:
        return None, exc.violations
    report = Report(display_path(config), lines, rules=RULES)
    validator = _validator("submission.schema.json")
    at_fault = configschema.check(report, validator, data, _SUBMISSION_FIXES)
    valid = {key: data[key] for key in data if key not in at_fault}

    crosschecks.submission_yaml(report, folder, data, valid, rules.workloads, rules.events)
    if report.found:
        return None, report.in_line_order()
    module, _, function = data["entrypoint"].rpartition(":")
    return Submission(
        folder=folder,
        config_file=config,
        team=data["team"],
        members=tuple(data.get("members", ())),
        workload=data["workload"],
        events=tuple(data["events"]),
        entrypoint_file=PurePosixPath(module).as_posix(),
        entrypoint_function=function,
        techniques=tuple(data.get("techniques", ())),
        description=data.get("description", ""),
    ), []


def load_submission(path: Path, rules: Rules) -> Submission:
    """The checked submission; raises ConfigError carrying every violation."""
    submission, problems = check_submission(path, rules)
    if submission is None:
        file, n = display_path(_locate(path)[1]), len(problems)
        raise ConfigError(f"{file}: {n} problem{'s' if n != 1 else ''} found", problems)
    return submission
