"""One grade, end to end: config → data → referee → result.

Every failure of the submission ends in a *result* with a verdict (never an exception
that loses it): a config error is ``config_invalid``, a child's failure carries the
child's code. Only the grader's own failures (a corrupted dataset, a broken baseline)
raise.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from pathlib import Path

import numpy as np

from grader import gradetext
from grader.analysis import quality, static, techniques, weights
from grader.config import Rules, Submission, check_submission
from grader.data import private as sealed
from grader.data.deform import deform
from grader.data.workloads import (
    ClassificationWorkload,
    GenerationWorkload,
    as_inputs,
    get_workload,
    load_split,
)
from grader.errors import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_RULES,
    Rejected,
    Verdict,
    Violation,
)
from grader.measure import hotspots
from grader.measure.ablation import Ablation
from grader.measure.instructions import InstructionCount, find, not_counted, required
from grader.measure.measurement import Measurement
from grader.measure.plan import Model, Plan, entry_models
from grader.measure.referee import Progress, Referee, Spawner
from grader.result import build, derive
from grader.sandbox import cachegrind
from grader.sandbox.launch import spawn
from grader.yamlfile import display_path

DEFORM_STREAM = 0xDEF0  # the deformations' random stream, apart from the referee's


@dataclasses.dataclass(frozen=True)
class HeldOut:
    """The data one grade shows: the held-out inputs as deformed for it, the decoys, and the
    sealed private split where it is scored (or why it is not)."""

    inputs: np.ndarray
    labels: np.ndarray
    deformation: dict | None
    decoys: np.ndarray | None
    want_private: bool
    why_not: str | None = None
    private_inputs: np.ndarray | None = None
    private_labels: np.ndarray | None = None


def grade(
    path: Path,
    rules: Rules,
    plan: Plan,
    *,
    quick: bool = False,
    progress: Progress | None = None,
    baseline_folder: Path | None = None,
    seed: int | None = None,
    private: bool = False,
    spawner: Spawner = spawn,
) -> dict:
    """Grade the submission at ``path`` (a folder or its submission.yaml); return the result.

    ``baseline_folder`` replaces the workload's reference model (the benchmarks use it to
    compare against a model of known speed). ``private`` (or ``phase: final``) also scores
    the sealed private split, where its key is set; where it is not, the result says why.
    ``spawner`` starts the children (the tests record them).
    """
    submission, code, violations = check_before_running(path, rules)
    if code:
        return rejected_config(path, violations, code)
    workload = get_workload(rules, submission.workload)
    if isinstance(workload, GenerationWorkload):  # docs/DESIGN.md, Generation
        text = (submission, workload, rules, quick, progress, baseline_folder, seed, spawner)
        return gradetext.grade_text(*text, private, plan.require_sandbox, plan.require_instructions)
    seed = int.from_bytes(os.urandom(4), "little") if seed is None else seed
    valgrind = find_valgrind(plan)  # before any code runs: --require-instructions stops here
    data = held_out(rules, workload, seed, private or rules.is_final)
    plan = fitted(plan, workload, data.private_inputs is not None)
    referee = Referee(
        data.inputs, workload.classes, plan, progress=progress, seed=seed,
        imports=rules.imports, private=data.private_inputs, decoys=data.decoys,
        spawner=spawner,
    )  # fmt: skip
    baseline, candidate = entry_models(rules, workload, submission, baseline_folder)
    doc = build.skeleton(submission)
    doc["grader"]["rules_sha256"] = rules.sha256
    try:
        measured = referee.measure(baseline, candidate)
    except Rejected as exc:
        doc["verdict"] = build.referee_verdict(exc, data.private_inputs is not None)
        doc["sandbox"] = referee.sandbox.layers()
        return doc
    doc["system"] = build.system_info(measured.affinity)
    doc["verdict"] = {"status": "graded", "code": None, "message": "graded"}
    doc["measurement"] = measurement_section(measured, plan, data.deformation, quick)
    doc["sandbox"] = referee.sandbox.layers()
    if data.want_private:
        doc["private"] = private_section(rules, workload, measured, data)
    doc.update(file_sections(rules, submission, candidate, referee, measured))
    doc.update(model_sections(measured, data.labels, baseline, candidate, doc["artifacts"]))
    if valgrind is not None:  # a full grade: its untimed passes, counted and profiled
        models = (baseline, candidate)
        doc["instructions"], functions = instruction_counts(referee, models, measured, valgrind)
        doc["hotspots"] = hot_spots(referee, models, measured, doc["instructions"], functions)
    return derive.apply_derived(doc, derive.derive(doc, rules))


def fitted(plan: Plan, workload: ClassificationWorkload, sealed_split: bool) -> Plan:
    """``plan`` for a grade of ``workload``: counted blocks of at most the workload's
    ``count_samples`` (a slow baseline's fewer), and the complete sandbox where the private
    split is fed to a submission."""
    count = min(plan.count_samples, workload.count_samples or plan.count_samples)
    require = plan.require_sandbox or sealed_split
    return dataclasses.replace(plan, count_samples=count, require_sandbox=require)


def find_valgrind(plan: Plan) -> cachegrind.Valgrind | str | None:
    """The valgrind this grade counts with, or why there is none (``instructions.find``)."""
    return find(plan.count_samples, plan.require_instructions)


def instruction_counts(
    referee: Referee,
    models: tuple[Model, Model],
    measured: Measurement,
    valgrind: cachegrind.Valgrind | str,
) -> tuple[dict, dict[str, list]]:
    """The result's ``instructions``: both models' runs counted under cachegrind, untimed,
    after the timed measurement (docs/DESIGN.md, Instruction counts), blocks of the plan's
    ``count_samples`` at most; or why not, which ``--require-instructions`` makes the grader's
    failure. Beside it, each counted run's instructions by function, for the hot spots."""
    functions: dict[str, list] = {}
    if isinstance(valgrind, str):
        counts = not_counted(valgrind)
    else:
        base, sub = (
            float(np.median(m.latency_samples_s)) for m in (measured.baseline, measured.submission)
        )
        counter = InstructionCount(referee, valgrind, time.perf_counter)
        first = measured.submission.answers.reference
        most, slowdown = referee.plan.count_samples, sub / base if base > 0 else 1.0
        counts = counter.count(*models, first, most, slowdown)
        functions = counter.functions
    return required(counts, referee.plan), functions


def hot_spots(
    referee: Referee,
    models: tuple[Model, Model],
    measured: Measurement,
    instructions: dict,
    functions: dict[str, list],
) -> dict:
    """The result's ``hotspots``: each model's lines traced through one untimed block, and
    its counted runs by library (docs/DESIGN.md, Where the time goes)."""
    started = time.perf_counter()
    latencies = [
        float(np.median(m.latency_samples_s)) for m in (measured.baseline, measured.submission)
    ]
    profiles = hotspots.profile_digits(referee, models, (latencies[0], latencies[1]))
    return hotspots.section(profiles, hotspots.bucket_runs(instructions, functions), started)


def held_out(
    rules: Rules, workload: ClassificationWorkload, seed: int, want_private: bool
) -> HeldOut:
    """The held-out inputs as this grade shows them, the decoys, and the private split where
    it is wanted and its key is set. The key is taken out of the environment in any case,
    before any child starts."""
    images, labels = load_split(rules, workload.dataset, "test")
    # The held-out images as this grade shows them (grader/data/deform.py): each moved by its own
    # small affine map, drawn from the seed on a stream of its own.
    spec = rules.datasets[workload.dataset].get("deform")
    moves = None if spec is None else np.random.default_rng([seed, DEFORM_STREAM])
    if moves is not None:
        images = deform(images, spec, moves)
    decoys = None  # for the untimed blocks: the training digits, where the dataset has them
    if "train" in rules.datasets[workload.dataset]["splits"]:
        decoys = as_inputs(load_split(rules, workload.dataset, "train")[0], workload)
    key = sealed.take_key()  # out of the environment in any case, before any child starts
    why_not = sealed.unavailable(rules, workload.dataset, key) if want_private else None
    data = HeldOut(as_inputs(images, workload), labels, spec, decoys, want_private, why_not)
    if not want_private or why_not is not None:
        return data
    private_images, private_labels = sealed.load(rules, workload.dataset, key)
    if moves is not None:
        private_images = deform(private_images, spec, moves)
    return dataclasses.replace(
        data, private_inputs=as_inputs(private_images, workload), private_labels=private_labels
    )


def measurement_section(
    measured: Measurement, plan: Plan, deformation: dict | None, quick: bool
) -> dict:
    """How the grade measured: the result's ``measurement``."""
    return {
        "block_size": measured.block_size,
        "rounds": measured.rounds,
        "sessions": plan.sessions,
        "session_of_round": measured.session_of_round,
        "round_roles": measured.round_roles,
        "warmup_rounds": measured.warmup_rounds,
        "stop_reason": measured.stop_reason,
        "seed": measured.seed,
        "input_noise": plan.noise,
        "deformation": deformation,
        "throughput_batch": plan.throughput_batch,
        "wall_seconds": measured.wall_seconds,
        "quick": quick,
        "cache_check": measured.cache_check.as_dict(),
        "cpu_wait_share": build.cpu_wait_share(measured.cpu_wait),
    }


def private_section(
    rules: Rules, workload: ClassificationWorkload, measured: Measurement, data: HeldOut
) -> dict:
    """The result's ``private``: each model's counts on the sealed split, or why not."""
    section = private_counts(measured, data.private_labels, data.why_not)
    if data.private_labels is not None:
        section["sha256"] = sealed.sealed_entry(rules, workload.dataset)["sha256"]
        section["kind"] = sealed.kind(rules, workload.dataset)
    return section


def model_sections(
    measured: Measurement, labels: np.ndarray, baseline: Model, candidate: Model, artifacts: dict
) -> dict:
    """The result's ``baseline`` and ``optimized``: each model's observed metrics."""
    return {
        "baseline": {
            "path": display_path(baseline.folder),
            "metrics": build.model_metrics(
                measured.baseline,
                labels,
                build.model_files(baseline.folder, baseline.files),
                weights.parameters(weights.inspect(baseline.folder, baseline.files)),
            ),
        },
        "optimized": {
            "metrics": build.model_metrics(
                measured.submission,
                labels,
                build.model_files(candidate.folder, candidate.files),
                weights.parameters(artifacts),
            )
        },
    }


def file_sections(
    rules: Rules, submission: Submission, candidate: Model, referee: Referee, measured: Measurement
) -> dict:
    """The result's ``artifacts`` (size and parameters, read here from the files each child
    was given: all it could read), ``ablation`` and ``code_quality``."""
    artifacts = weights.inspect(candidate.folder, candidate.files)
    parameters = rules.workloads[submission.workload].get("baseline_parameters", 1)
    evidence = techniques.evidence_arrays(artifacts, rules, parameters)
    return {
        "artifacts": artifacts,
        "ablation": ablation(referee, candidate, measured, evidence),
        "code_quality": quality.lint(
            submission.folder,
            rules,
            f"{submission.entrypoint_file}:{submission.entrypoint_function}",
        ),
    }


def ablation(
    referee: Referee, candidate: Model, measured: Measurement, evidence: dict[str, list[str]]
) -> dict:
    """One untimed child per kind of evidence found, with that evidence's arrays shuffled
    in its private copy: the answers it gives, against the submission's first answers."""
    rng = np.random.default_rng(measured.seed)
    rewrites = {
        kind: functools.partial(weights.ablate, arrays=names, rng=rng)
        for kind, names in evidence.items()
    }
    observed = Ablation(referee).ablate(
        candidate, rewrites, measured.submission.answers.reference, techniques.ABLATION_SAMPLES
    )
    for kind, check in observed["checks"].items():
        check["arrays"] = evidence[kind][: weights.MAX_ARRAYS]
    return observed


def private_counts(measured, labels, why_not: str | None) -> dict:
    """Each model's correct answers on the private split, counted here; or why not."""
    if labels is None:
        return {"available": False, "reason": why_not, "baseline": None, "optimized": None}
    return {
        "available": True,
        "reason": None,
        **{
            side: {
                "correct": int(np.sum(m.answers.private_predictions == labels)),
                "total": len(labels),
            }
            for side, m in (("baseline", measured.baseline), ("optimized", measured.submission))
        },
    }


def check_before_running(
    path: Path, rules: Rules
) -> tuple[Submission | None, Verdict | None, list[Violation]]:
    """The config, then the files and imports: the submission, or a verdict code and every
    violation. Nothing of the submission runs."""
    submission, violations = check_submission(path, rules)
    if submission is None or violations:
        return None, Verdict.CONFIG_INVALID, violations
    code, violations = static.check(submission.folder, rules)
    return (None, code, violations) if code else (submission, None, [])


def rejected_config(
    path: Path, violations: list[Violation], code: Verdict = Verdict.CONFIG_INVALID
) -> dict:
    """A verdict reached before any code ran: the config, the files or the imports."""
    folder = path.parent if path.name == "submission.yaml" else path
    return build.rejected(folder.name, violations, code)


def exit_code(doc: dict) -> int:
    """0 graded and every rule met, 1 graded with a rule not met, 2 rejected
    (docs/DESIGN.md, Verdicts and exit codes)."""
    if doc["verdict"]["status"] != "graded":
        return EXIT_REJECTED
    return EXIT_OK if derive.qualified_everywhere(doc) else EXIT_RULES
