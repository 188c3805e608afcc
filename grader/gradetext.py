"""One generation grade, end to end: config → TinyTalks and the grade's composed questions →
the generation referee → result (docs/DESIGN.md, Generation).

``grade.grade`` hands a submission of a generation workload here once its config, files
and imports have passed; like a digit grade, every failure of the submission ends in a
result with a verdict.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from grader.analysis import quality, weights
from grader.child import wire
from grader.config import Rules, Submission
from grader.data import probes, text
from grader.data.workloads import GenerationWorkload, dataset_folder
from grader.errors import Rejected
from grader.measure.generation import GenerationReferee
from grader.measure.launch import Spawner
from grader.measure.plan import QUICK_GENERATION, GenerationPlan, entry_models
from grader.measure.referee import Progress
from grader.result import build, derive
from grader.yamlfile import display_path

HELD_OUT_STREAM = 0x7E57  # a quick grade's draw of held-out pairs, apart from the other streams


def grade_text(
    submission: Submission,
    workload: GenerationWorkload,
    rules: Rules,
    quick: bool,
    progress: Progress | None,
    baseline_folder: Path | None,
    seed: int | None,
    spawner: Spawner,
) -> dict:
    """A generation workload's grade (docs/DESIGN.md, Generation): the held-out pairs and
    the questions composed for this grade, walked and answered by both models."""
    plan = QUICK_GENERATION if quick else GenerationPlan()
    seed = int.from_bytes(os.urandom(4), "little") if seed is None else seed
    folder = dataset_folder(rules, workload.dataset)
    test = text.load_split(folder, "test")
    if plan.held_out is not None:  # a quick grade's share, drawn from the seed
        drawn = np.random.default_rng([seed, HELD_OUT_STREAM]).permutation(len(test))
        test = [test[i] for i in sorted(drawn[: plan.held_out])]
    held = [(p, "test") for p in test]
    held += [(p, "probe") for p in probes.compose(seed, plan.probes)]
    public = text.load_split(folder, "train") + text.load_split(folder, "val")
    filler = probes.scrambled(public, seed)
    referee = GenerationReferee(
        [p for p, _ in held], filler, workload.vocab_size, plan, progress, seed,
        rules.imports, spawner=spawner,
    )  # fmt: skip
    baseline, candidate = entry_models(rules, workload, submission, baseline_folder)
    doc = build.skeleton(submission)
    doc["grader"]["rules_sha256"] = rules.sha256
    try:
        measured = referee.measure(baseline, candidate)
    except Rejected as exc:
        doc["verdict"] = build.referee_verdict(exc, False)
        doc["sandbox"] = referee.sandbox.layers()
        return doc
    kinds = [kind for _, kind in held]
    doc["system"] = build.system_info(measured.affinity)
    doc["verdict"] = {"status": "graded", "code": None, "message": "graded"}
    doc["measurement"] = text_measurement(measured, plan, held, quick)
    doc["sandbox"] = referee.sandbox.layers()
    artifacts = weights.inspect(candidate.folder, candidate.files)
    doc["artifacts"] = artifacts
    doc["code_quality"] = quality.lint(
        submission.folder, rules, f"{submission.entrypoint_file}:{submission.entrypoint_function}"
    )
    for side, model, m, found in (
        ("baseline", baseline, measured.baseline, weights.inspect(baseline.folder, baseline.files)),
        ("optimized", candidate, measured.submission, artifacts),
    ):
        files = build.model_files(model.folder, model.files)
        doc[side] = {"metrics": build.text_metrics(m, kinds, files, weights.parameters(found))}
    doc["baseline"]["path"] = display_path(baseline.folder)
    return derive.apply_derived(doc, derive.derive(doc, rules))


def text_measurement(measured, plan: GenerationPlan, held: list, quick: bool) -> dict:
    """How a generation grade measured: the result's ``measurement``."""
    return {
        "protocol": wire.GENERATION,
        "block_size": plan.block_steps,
        "rounds": len(measured.submission.token_latency_s),
        "sessions": plan.sessions,
        "session_of_round": list(measured.submission.showing_session),
        "warmup_rounds": 0,
        "stop_reason": "max_rounds",
        "seed": measured.seed,
        "input_noise": 0.0,
        "deformation": None,
        "throughput_batch": 0,
        "wall_seconds": measured.wall_seconds,
        "quick": quick,
        "text": {
            "vocab_version": text.VOCAB_VERSION,
            "probe_version": probes.PROBE_VERSION,
            "walk_length": plan.length,
            "block_steps": plan.block_steps,
            "context_lengths": list(plan.lengths),
            "replays_per_session": plan.replays,
            "walks": [[index, replay] for session in measured.walks for index, replay in session],
            "scored": [
                {"question": p.question, "reference": p.answer, "kind": kind} for p, kind in held
            ],
        },
    }
