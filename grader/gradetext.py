"""One generation grade, end to end: config → TinyTalks, the grade's composed questions and,
where it is wanted, the course's sealed Q&A → the generation referee → result
(docs/DESIGN.md, Generation).

``grade.grade`` hands a submission of a generation workload here once its config, files
and imports have passed; like a digit grade, every failure of the submission ends in a
result with a verdict.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from pathlib import Path

import numpy as np

from grader.analysis import quality, techniques, weights
from grader.child import wire
from grader.config import Rules, Submission
from grader.data import private as sealed
from grader.data import probes, sealedtext, text
from grader.data.sampler import Sampler
from grader.data.workloads import GenerationWorkload, dataset_folder
from grader.errors import Rejected
from grader.measure import hotspots, textablation, textcount
from grader.measure.generation import GenerationReferee
from grader.measure.launch import Spawner
from grader.measure.plan import QUICK_GENERATION, GenerationPlan, Model, entry_models
from grader.measure.referee import Progress
from grader.measure.sealedwalks import SealedSession
from grader.measure.walks import Extend
from grader.result import build, derive
from grader.yamlfile import display_path

HELD_OUT_STREAM = 0x7E57  # a quick grade's draw of held-out pairs, apart from the other streams
DRAWN_STREAM = 0xF1DE  # the draw of the walks' filler from the baseline, apart from the others


@dataclasses.dataclass(frozen=True)
class Scored:
    """The records a generation grade scores: the public ones, each with its kind (``test``,
    ``probe``), walked in the timed sessions; the course's sealed ones, walked in a session
    of their own (``sealedwalks``); and the sealed split's state: wanted, and why not scored
    where it is not."""

    held: list[tuple[text.Pair, str]]
    plan: GenerationPlan  # with the sealed records, ``GenerationPlan.sealed``
    want_private: bool
    why_not: str | None = None
    sealed: list[text.Pair] = dataclasses.field(default_factory=list)

    @property
    def private(self) -> bool:
        return bool(self.sealed)


def grade_text(
    submission: Submission,
    workload: GenerationWorkload,
    rules: Rules,
    quick: bool,
    progress: Progress | None,
    baseline_folder: Path | None,
    seed: int | None,
    spawner: Spawner,
    private: bool = False,
    require_sandbox: bool = False,
    require_instructions: bool = False,
) -> dict:
    """A generation workload's grade (docs/DESIGN.md, Generation): the held-out pairs and
    composed questions walked and answered by both models, and the course's sealed Q&A
    where ``private`` (or ``phase: final``) wants it and its key is set, walked apart
    (``sealedwalks``); in a full grade, instructions per token (Instruction counts)."""
    seed = int.from_bytes(os.urandom(4), "little") if seed is None else seed
    data = scored_records(rules, workload, quick, seed, private or rules.is_final)
    plan = dataclasses.replace(data.plan, require_instructions=require_instructions)
    valgrind = textcount.valgrind_for(plan)  # before any code runs: --require-instructions
    if data.private or require_sandbox:
        # The sealed split is fed to a submission only inside the complete sandbox.
        plan = dataclasses.replace(plan, require_sandbox=True)
    folder = dataset_folder(rules, workload.dataset)
    public = text.load_split(folder, "train") + text.load_split(folder, "val")
    filler = probes.scrambled(public, seed)  # the sealed walks' (sealedwalks)
    referee = GenerationReferee(
        [p for p, _ in data.held], filler, workload.vocab_size, plan, progress, seed,
        rules.imports, extend=drawn_filler(workload, plan, seed), spawner=spawner,
    )  # fmt: skip
    apart = SealedSession(referee, data.sealed, filler, progress) if data.private else None
    baseline, candidate = entry_models(rules, workload, submission, baseline_folder)
    doc = build.skeleton(submission)
    doc["grader"]["rules_sha256"] = rules.sha256
    try:
        measured = referee.measure(baseline, candidate)  # then, in fresh processes, the sealed
        sealed_sums = apart.measure(baseline, candidate) if apart is not None else None  # walks
    except Rejected as exc:
        doc["verdict"] = build.referee_verdict(exc, data.private)
        doc["sandbox"] = referee.sandbox.layers()
        return doc
    doc["system"] = build.system_info(measured.affinity)
    doc["verdict"] = {"status": "graded", "code": None, "message": "graded"}
    doc["measurement"] = text_measurement(measured, plan, data.held, quick)
    doc["sandbox"] = referee.sandbox.layers()
    if data.want_private:
        doc["private"] = private_section(rules, workload, sealed_sums, data)
    doc.update(text_sections(rules, submission, measured, data, (baseline, candidate), referee))
    functions: dict[str, list] = {}
    if valgrind is not None:
        models = (baseline, candidate)
        doc["instructions"], functions = textcount.instruction_counts(
            referee, models, measured, valgrind, time.perf_counter
        )
    if not quick:  # a full grade: where the time goes (docs/DESIGN.md, Where the time goes)
        doc["hotspots"] = hot_spots(
            referee, (baseline, candidate), doc.get("instructions"), functions
        )
    return derive.apply_derived(doc, derive.derive(doc, rules))


def drawn_filler(workload: GenerationWorkload, plan: GenerationPlan, seed: int) -> Extend:
    """The timed walks' filler: each opening continued with text drawn from the workload's
    baseline (``sampler.Sampler``), from the grade's seed (docs/DESIGN.md, Generation: the
    filler)."""
    sampler = Sampler.load(workload.baseline / "weights.npz")
    rng = np.random.default_rng([seed, DRAWN_STREAM])
    return lambda openings: sampler.extend(openings, plan.length, rng)


def hot_spots(
    referee: GenerationReferee,
    models: tuple[Model, Model],
    instructions: dict | None,
    functions: dict[str, list],
) -> dict:
    """The result's ``hotspots``: each model's lines traced through one public walk, untimed,
    and its counted steps by library (docs/DESIGN.md, Where the time goes)."""
    started = time.perf_counter()
    profiles = hotspots.profile_text(referee, models)
    buckets = (
        hotspots.bucket_runs(instructions, functions)
        if instructions is not None
        else hotspots.not_counted()
    )
    return hotspots.section(profiles, buckets, started)


def text_ablation(
    referee: GenerationReferee, candidate: Model, measured, evidence: dict, data: Scored
) -> dict:
    """One untimed child per kind of evidence found, its arrays shuffled in the child's
    private copy, stepped through public walks the submission walked: its arg-max against
    the submission's own there (``textablation``;
    docs/DESIGN.md, Techniques and code quality)."""
    rng = np.random.default_rng(measured.seed)
    rewrites = {
        kind: functools.partial(weights.ablate, arrays=names, rng=rng)
        for kind, names in evidence.items()
    }
    walks = textablation.ablation_walks(referee, [kind for _, kind in data.held])
    observed = textablation.ablate(
        referee, candidate, rewrites, measured.submission.first_argmax, walks
    )
    for kind, check in observed["checks"].items():
        check["arrays"] = evidence[kind][: weights.MAX_ARRAYS]
    return observed


def scored_records(
    rules: Rules, workload: GenerationWorkload, quick: bool, seed: int, want: bool
) -> Scored:
    """The held-out pairs (a share drawn from the seed, but in a full grade without the
    sealed records), the questions composed for the grade, and the sealed split's records
    where they are wanted and its key is set, with the plan that says how many of each. The
    key is taken out of the environment in any case, before any child starts."""
    plan = QUICK_GENERATION if quick else GenerationPlan()
    key = sealed.take_key()  # out of the environment in any case, before any child starts
    why_not = sealed.unavailable(rules, workload.dataset, key) if want else None
    pairs: list[text.Pair] = []
    if want and why_not is None:
        pairs = sealedtext.load(rules, workload.dataset, key)  # decrypted in memory only
        entry = sealed.sealed_entry(rules, workload.dataset)
        pairs = sealedtext.drawn(pairs, plan.private_records, entry["sha256"])
        plan = plan.sealed()
    test = text.load_split(dataset_folder(rules, workload.dataset), "test")
    if plan.held_out is not None:  # a share, drawn from the seed
        drawn = np.random.default_rng([seed, HELD_OUT_STREAM]).permutation(len(test))
        test = [test[i] for i in sorted(drawn[: plan.held_out])]
    held = [(p, "test") for p in test]
    held += [(p, "probe") for p in probes.compose(seed, plan.probes)]
    return Scored(held, plan, want, why_not, pairs)


def private_section(
    rules: Rules, workload: GenerationWorkload, sums: dict | None, data: Scored
) -> dict:
    """The result's ``private``: each model's rounded sums over the sealed records' answers
    (next-character ``correct``/``total`` as the digits', the summed NLL and the intervals:
    ``sealedwalks.sums``), or why the split was not scored."""
    if not data.private or sums is None:
        return {"available": False, "reason": data.why_not, "baseline": None, "optimized": None}
    return {
        "available": True,
        "reason": None,
        **sums,
        "sha256": sealed.sealed_entry(rules, workload.dataset)["sha256"],
        "kind": sealed.kind(rules, workload.dataset),
    }


def text_sections(
    rules: Rules,
    submission: Submission,
    measured,
    data: Scored,
    models: tuple[Model, Model],
    referee: GenerationReferee,
) -> dict:
    """The result's ``artifacts``, ``code_quality``, ``baseline`` and ``optimized``, and
    its ``ablation`` where the weight files show a technique."""
    baseline, candidate = models
    artifacts = weights.inspect(candidate.folder, candidate.files)
    out: dict = {
        "artifacts": artifacts,
        "code_quality": quality.lint(
            submission.folder,
            rules,
            f"{submission.entrypoint_file}:{submission.entrypoint_function}",
        ),
    }
    kinds = [kind for _, kind in data.held]
    for side, model, m, found in (
        ("baseline", baseline, measured.baseline, weights.inspect(baseline.folder, baseline.files)),
        ("optimized", candidate, measured.submission, artifacts),
    ):
        files = build.model_files(model.folder, model.files)
        out[side] = {"metrics": build.text_metrics(m, kinds, files, weights.parameters(found))}
    out["baseline"]["path"] = display_path(baseline.folder)
    parameters = rules.workloads[submission.workload].get("baseline_parameters", 1)
    evidence = techniques.evidence_arrays(artifacts, rules, parameters)
    if evidence:  # without evidence, none to check: the result keeps no ablation
        out["ablation"] = text_ablation(referee, candidate, measured, evidence, data)
    return out


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
        "cpu_wait_share": build.cpu_wait_share(measured.cpu_wait),
        "text": {
            "vocab_version": text.VOCAB_VERSION,
            "probe_version": probes.PROBE_VERSION,
            "walk_length": plan.length,
            "block_steps": plan.block_steps,
            "context_lengths": list(plan.lengths),
            "replays_per_session": plan.replays,
            "walks": [[index, replay] for session in measured.walks for index, replay in session],
            "blind": measured.blind,
            "openings": measured.openings,
            # The public records only: the sealed ones are walked apart, and only their
            # rounded sums are kept (the result's ``private``).
            "scored": [
                {"question": p.question, "reference": p.answer, "kind": kind} for p, kind in held
            ],
        },
    }
