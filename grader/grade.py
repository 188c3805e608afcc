"""One grade, end to end: config → data → harness → result.

Every failure of the submission ends in a *result* with a verdict (never an exception
that loses it): a config error is ``config_invalid``, a child's failure carries the
child's code. Only the grader's own failures (a corrupted dataset, a broken baseline)
raise.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path

import numpy as np

from grader.analysis import quality, static, techniques, weights
from grader.config import Rules, Submission, check_submission
from grader.data import private as sealed
from grader.data.deform import deform
from grader.data.workloads import as_inputs, get_workload, load_split
from grader.errors import EXIT_OK, EXIT_REJECTED, EXIT_RULES, Rejected, Verdict, Violation
from grader.measure.harness import Measurement, Model, Plan, Progress, Referee
from grader.result import build, derive
from grader.yamlfile import display_path

DEFORM_STREAM = 0xDEF0  # the deformations' random stream, apart from the referee's


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
) -> dict:
    """Grade the submission at ``path`` (a folder or its submission.yaml); return the result.

    ``baseline_folder`` replaces the workload's reference model (the benchmarks use it to
    compare against a model of known speed). ``private`` (or ``phase: final``) also scores
    the sealed private split, where its key is set; where it is not, the result says why.
    """
    submission, code, violations = check_before_running(path, rules)
    if code:
        return rejected_config(path, violations, code)
    workload = get_workload(rules, submission.workload)
    images, labels = load_split(rules, workload.dataset, "test")
    seed = int.from_bytes(os.urandom(4), "little") if seed is None else seed
    # The held-out images as this grade shows them (grader/data/deform.py): each moved by its own
    # small affine map, drawn from the seed on a stream of its own.
    spec = rules.datasets[workload.dataset].get("deform")
    moves = None if spec is None else np.random.default_rng([seed, DEFORM_STREAM])
    if moves is not None:
        images = deform(images, spec, moves)
    decoys = None  # for the untimed blocks: the training digits, where the dataset has them
    if "train" in rules.datasets[workload.dataset]["splits"]:
        decoys = as_inputs(load_split(rules, workload.dataset, "train")[0], workload)
    want_private = private or rules.is_final
    key = sealed.take_key()  # out of the environment in any case, before any child starts
    why_not = sealed.unavailable(rules, workload.dataset, key) if want_private else None
    private_inputs = private_labels = None
    if want_private and why_not is None:
        private_images, private_labels = sealed.load(rules, workload.dataset, key)
        if moves is not None:
            private_images = deform(private_images, spec, moves)
        private_inputs = as_inputs(private_images, workload)
        # The private split is fed to a submission only inside the complete sandbox.
        plan = dataclasses.replace(plan, require_sandbox=True)
    referee = Referee(
        as_inputs(images, workload),
        labels,
        workload.classes,
        plan,
        progress=progress,
        seed=seed,
        imports=rules.imports,
        private=private_inputs,
        decoys=decoys,
    )
    base_file, base_function = workload.entrypoint.split(":")
    baseline = Model(
        "baseline",
        baseline_folder or workload.baseline,
        base_file,
        base_function,
        # A replacement is laid out as a submission is: its model files, as for one.
        static.model_files(baseline_folder, rules.data["files"])
        if baseline_folder
        else workload.baseline_files,
    )
    candidate = Model(
        "submission",
        submission.folder,
        submission.entrypoint_file,
        submission.entrypoint_function,
        static.model_files(submission.folder, rules.data["files"]),
    )
    doc = skeleton(submission)
    doc["grader"]["rules_sha256"] = rules.sha256
    try:
        measured = referee.measure(baseline, candidate)
    except Rejected as exc:
        message = exc.message
        if private_inputs is not None:  # its text could carry private inputs out
            message = (
                f"the submission failed ({exc.code}) with the sealed private split among its "
                "inputs; in the final phase the details are not published"
            )
        doc["verdict"] = {"status": "rejected", "code": exc.code, "message": message}
        doc["sandbox"] = referee.layers()
        return doc
    doc["system"] = build.system_info(measured.affinity)
    doc["verdict"] = {"status": "graded", "code": None, "message": "graded"}
    doc["measurement"] = {
        "block_size": measured.block_size,
        "rounds": measured.rounds,
        "sessions": plan.sessions,
        "session_of_round": measured.session_of_round,
        "round_roles": measured.round_roles,
        "warmup_rounds": measured.warmup_rounds,
        "stop_reason": measured.stop_reason,
        "seed": measured.seed,
        "input_noise": plan.noise,
        "deformation": spec,
        "throughput_batch": plan.throughput_batch,
        "wall_seconds": measured.wall_seconds,
        "quick": quick,
        "cache_check": measured.cache_check,
    }
    doc["sandbox"] = referee.layers()
    if want_private:
        doc["private"] = private_counts(measured, private_labels, why_not)
        if private_labels is not None:
            doc["private"]["sha256"] = sealed.sealed_entry(rules, workload.dataset)["sha256"]
            doc["private"]["kind"] = sealed.kind(rules, workload.dataset)
    # Size and parameters are read here, from the files each child was given: all it could read.
    doc["artifacts"] = weights.inspect(candidate.folder, candidate.files)
    parameters = rules.workloads[submission.workload].get("baseline_parameters", 1)
    evidence = techniques.evidence_arrays(doc["artifacts"], rules, parameters)
    doc["ablation"] = ablation(referee, candidate, measured, evidence)
    doc["code_quality"] = quality.lint(
        submission.folder, rules, f"{submission.entrypoint_file}:{submission.entrypoint_function}"
    )
    doc["baseline"] = {
        "path": display_path(baseline.folder),
        "metrics": build.model_metrics(
            measured.baseline,
            labels,
            build.model_files(baseline.folder, baseline.files),
            weights.parameters(weights.inspect(baseline.folder, baseline.files)),
        ),
    }
    doc["optimized"] = {
        "metrics": build.model_metrics(
            measured.submission,
            labels,
            build.model_files(candidate.folder, candidate.files),
            weights.parameters(doc["artifacts"]),
        )
    }
    return derive.apply_derived(doc, derive.derive(doc, rules))


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
    observed = referee.ablate(
        candidate, rewrites, measured.submission.reference, techniques.ABLATION_SAMPLES
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
            side: {"correct": int(np.sum(m.private_predictions == labels)), "total": len(labels)}
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


def skeleton(submission: Submission) -> dict:
    return {
        **build.header(),
        "submission": {
            "team": submission.team,
            "members": list(submission.members),
            "workload": submission.workload,
            "events": list(submission.events),
            "techniques_claimed": list(submission.techniques),
            "description": submission.description,
            "entrypoint": f"{submission.entrypoint_file}:{submission.entrypoint_function}",
            "content_sha256": build.content_sha256(submission.folder),
        },
        "techniques": {"claimed": list(submission.techniques), "detected": None},
        "verdict": {"status": "graded", "code": None, "message": ""},
    }


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
