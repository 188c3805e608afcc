"""``olympics comment``: the PR comment from result JSON files that came from a grading run.

The files are untrusted (the run executed a stranger's code): each is size-capped, checked
against the schema and recomputed (:func:`grader.result.verify.check`) before it is
rendered, and a file that fails is shown as such, never rendered as if it were a grade.
The Markdown is written to disk and to the job summary *before* anything is posted, so a
failure to post loses nothing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from grader import __version__, escape, render, renderhistory
from grader.analysis import scope
from grader.analysis.scope import SLUG
from grader.config import Rules
from grader.errors import GitHubError, GraderError, Verdict, Violation
from grader.publish import history
from grader.publish.github import MAX_COMPARE_FILES, Comparison, Pull, body
from grader.result import build, jsonfile, verify

MAX_CLAIM_BYTES = 4096


def card_for(file: Path, rules: Rules, results: Path | None = None) -> str:
    """The score card of one result file, or a card saying why it cannot be shown; with
    ``results`` (the store), the team's earlier grades after a graded card."""
    try:
        doc = jsonfile.read_json(file)
        problems = verify.check(doc, rules, file.name)
    except GraderError as exc:
        problems, doc = [exc.message], None
    if not problems:
        # the reader's hints (docs/DESIGN.md, Hints), then the team's earlier grades
        return render.markdown(doc, rules.hints) + earlier_grades(doc, rules, results)
    lines = [
        "### TinyTorch Olympics · result not verified",
        "",
        f"The grading run's result {escape.code(file.name, 100)} failed validation, so it is "
        "not shown as a grade. Re-run the grading workflow; if this persists, tell the "
        "instructors.",
        "",
    ]
    lines += [f"- {escape.md(str(p), 300)}" for p in problems[:10]]
    if len(problems) > 10:
        lines.append(f"- … and {len(problems) - 10} more")
    return "\n".join(lines) + "\n"


NO_RESULT = (
    "### TinyTorch Olympics\n\nNo score card: this pull request changes no submission to "
    "grade, or its grading run stopped before grading (see the run's log).\n"
)
PRELIMINARY = "preliminary: the leaderboard counts the re-grade on main after merge"


def compose(
    files: list[Path], rules: Rules, head_sha: str | None = None, results: Path | None = None
) -> str:
    cards = [card_for(f, rules, results) for f in sorted(files)] or [NO_RESULT]
    return with_footer(cards, head_sha)


def earlier_grades(doc: dict, rules: Rules, results: Path | None) -> str:
    """The section of the team's earlier grades of this workload, from the store (the
    default branch's, which the comment workflow checks out): "" where there are none, and
    a line naming the files that could not be read (docs/DESIGN.md, Progress over time)."""
    sub = doc["submission"]
    team, workload = sub.get("team", ""), sub.get("workload", "")
    if results is None or doc["verdict"]["status"] != "graded" or not SLUG.fullmatch(team):
        return ""  # a team name the store would refuse names no folder of it either
    if not (results / team).is_dir():
        return ""
    found = history.team_history(results, team, rules)
    section = renderhistory.markdown_section(team, workload, found.workloads().get(workload, []))
    if found.problems:
        section += (
            f"\n{len(found.problems)} stored grade(s) of this team could not be read "
            f"(`olympics history {team}` names them).\n"
        )
    return "\n" + section if section else ""


def with_footer(cards: list[str], head_sha: str | None) -> str:
    # The card is of the graded commit, which need not be the PR's head when it is read.
    at = f" · graded at {escape.code(head_sha[:12], 20)}" if head_sha else ""
    return body(
        cards, f"<sub>olympics grader {escape.md(__version__, 20)}{at} · {PRELIMINARY}</sub>"
    )


def scope_card(compared: Comparison, head_sha: str | None) -> str | None:
    """The comment for a pull request whose graded commit, as GitHub compares it with the
    base, reaches outside one team's folder: a scope_violation card in place of any grade
    (the grading run of such a commit may have run a workflow the pull request itself
    rewrote). A comparison GitHub cut short is refused too: what it left out is unknown.
    None if in scope."""
    by_team, violations = scope.check_paths(compared.changes)
    if not compared.complete:
        violations.append(
            Violation(
                rule="too_many_files",
                file=f"{compared.base_sha[:12]}...{compared.head_sha[:12]}",
                message=f"the pull request changes {MAX_COMPARE_FILES} files or more, the "
                "most GitHub lists: the rest cannot be checked",
                fix="a pull request changes one team's folder: keep a submission to fewer "
                "files, and open a separate pull request for anything else",
            )
        )
    if not violations:
        return None
    team = next(iter(by_team)) if len(by_team) == 1 else ""
    return with_footer(
        [render.markdown(build.rejected(team, violations, Verdict.SCOPE_VIOLATION))], head_sha
    )


def check_base(pull: Pull, default_branch: str) -> None:
    """Refuse a pull request into any branch but the default one: grade.yml grades only
    those, so the grading run of another came from a workflow that was rewritten."""
    if pull.base_ref != default_branch:
        raise GraderError(
            f"pull request #{pull.number} is into {pull.base_ref!r}, not the default branch "
            f"{default_branch!r}: the competition grades only pull requests into "
            f"{default_branch!r} (grade.yml runs on no other), so this grading run came from "
            "a workflow the pull request or its base changed; nothing posted. Open the pull "
            f"request against {default_branch!r}"
        )


def save(text: str, markdown: Path | None) -> list[Path]:
    """Write the comment where it cannot be lost: the file asked for and the job summary."""
    written = []
    if markdown is not None:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(text, encoding="utf-8")
        written.append(markdown)
    if summary := os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(text + "\n")
        written.append(Path(summary))
    return written


@dataclass(frozen=True)
class Claim:
    """What the grading run's artifact says about itself: untrusted, only compared."""

    pr: int | None
    head_sha: str | None


def read_claim(path: Path) -> Claim:
    try:
        if path.stat().st_size > MAX_CLAIM_BYTES:
            raise GitHubError(f"{path}: over {MAX_CLAIM_BYTES} bytes; not a claim file")
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GitHubError(f"{path}: cannot read the claim: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise GitHubError(f"{path}: the claim is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise GitHubError(f'{path}: the claim must be an object, e.g. {{"pr": 12, "head_sha": …}}')
    pr, sha = data.get("pr"), data.get("head_sha")
    return Claim(
        pr=pr if isinstance(pr, int) and not isinstance(pr, bool) else None,
        head_sha=sha if isinstance(sha, str) else None,
    )


def check_claim(claim: Claim, pr: int, head_sha: str) -> None:
    """Refuse to post if the artifact says it belongs to another PR or commit."""
    if claim.pr is not None and claim.pr != pr:
        raise GitHubError(
            f"the artifact claims pull request #{claim.pr}, but the grading run's head "
            f"{head_sha[:12]} is pull request #{pr}: not posting (the artifact may be forged)"
        )
    if claim.head_sha is not None and claim.head_sha != head_sha:
        raise GitHubError(
            f"the artifact claims head {claim.head_sha[:12]!r}, but the grading run's head "
            f"is {head_sha[:12]}: not posting (the artifact may be forged)"
        )
