"""``olympics changed``: a real git repository per test, a base commit and a PR commit.

Each refusal names the offending path and exits 2 with ``scope_violation``.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import gitrepo
import pytest
from clirun import runner

from grader.cli.main import main
from grader.config import load_rules
from grader.result import verify

run = runner(flat_err=True)


class Repo(gitrepo.Repo):
    def changed(self, *extra: str, author: str | None = "bob") -> tuple[int, str, str]:
        head = self.commit("the pull request")
        who = ("--author", author) if author else ()
        return run("changed", "--repo", str(self.path), "--base", self.base, "--head", head,
                   *who, *extra)  # fmt: skip


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "fork")


def test_a_new_team_folder_is_listed_for_grading(repo: Repo) -> None:
    repo.team("bravo", ["bob"])
    (repo.path / "submissions" / "bravo" / "README.md").write_text("# bravo\n")
    code, out, err = repo.changed()
    assert (code, out) == (0, "submissions/bravo\n"), err


def test_a_member_updates_the_team_s_own_folder(repo: Repo) -> None:
    (repo.path / "submissions" / "alpha" / "README.md").write_text("# faster now\n")
    code, out, err = repo.changed(author="Alice")  # GitHub logins ignore case
    assert (code, out) == (0, "submissions/alpha\n"), err


def test_a_pr_that_edits_events_yaml_is_refused(repo: Repo) -> None:
    repo.team("bravo", ["bob"])
    events = repo.path / "events.yaml"
    events.write_text(events.read_text() + "# every threshold halved\n")
    code, out, err = repo.changed()
    assert code == 2 and out == ""
    assert "scope_violation" in err
    assert "events.yaml: the pull request changes events.yaml, outside submissions/<team>/" in err


def test_a_pr_touching_two_teams_names_both(repo: Repo) -> None:
    repo.team("bravo", ["bob"])
    repo.team("charlie", ["bob"])
    code, _, err = repo.changed()
    assert code == 2
    assert "submissions/bravo/: the pull request touches 2 teams' folders: bravo, charlie" in err
    assert "submissions/charlie/:" in err and "open one pull request per team" in err


def test_editing_another_team_s_folder_is_refused(repo: Repo) -> None:
    (repo.path / "submissions" / "alpha" / "model.py").write_text("def build_model(): ...\n")
    code, _, err = repo.changed(author="bob")
    assert code == 2
    assert "submissions/alpha/submission.yaml: bob changes another team's folder" in err


def test_adding_oneself_to_another_team_does_not_help(repo: Repo) -> None:
    repo.team("alpha", ["alice", "bob"])  # the PR's own submission.yaml lists bob
    code, _, err = repo.changed(author="bob")
    assert code == 2 and "not in its members on the base branch" in err


def test_deleting_another_team_s_folder_is_refused(repo: Repo) -> None:
    shutil.rmtree(repo.path / "submissions" / "alpha")
    code, _, err = repo.changed(author="bob")
    assert code == 2 and "bob changes another team's folder" in err


def test_a_new_folder_in_someone_else_s_name_is_refused(repo: Repo) -> None:
    repo.team("bravo", ["carol"])
    code, _, err = repo.changed(author="bob")
    assert code == 2
    assert "bob opens a team folder without being one of its members" in err
    assert "add bob to members" in err


def test_without_an_author_membership_is_not_checked(repo: Repo) -> None:
    repo.team("bravo", ["carol"])
    code, out, _ = repo.changed(author=None)
    assert (code, out) == (0, "submissions/bravo\n")


def test_renaming_a_file_out_of_the_folder_is_refused(repo: Repo) -> None:
    (repo.path / "tools").mkdir()
    repo.git("mv", "submissions/alpha/model.py", "tools/model.py")
    code, _, err = repo.changed(author="alice")
    assert code == 2
    assert (
        "tools/model.py: the pull request renames submissions/alpha/model.py to tools/model.py"
        in err
    )


def test_deleting_outside_the_folder_is_refused(repo: Repo) -> None:
    repo.team("bravo", ["bob"])
    (repo.path / "README.md").unlink()
    code, _, err = repo.changed()
    assert code == 2 and "README.md: the pull request deletes README.md" in err


def test_a_file_directly_in_submissions_is_refused(repo: Repo) -> None:
    (repo.path / "submissions" / "notes.md").write_text("hi\n")
    code, _, err = repo.changed()
    assert code == 2 and "submissions/notes.md: the pull request adds" in err


def test_the_team_slug_must_match_the_folder(repo: Repo) -> None:
    repo.team("delta", ["bob"], folder="charlie")
    code, _, err = repo.changed()
    assert code == 2
    assert "submissions/charlie/submission.yaml: the team is 'delta' but the folder is" in err


def test_a_folder_that_is_not_a_slug_is_refused(repo: Repo) -> None:
    repo.team("bad-name", ["bob"], folder="Bad_Name")
    code, _, err = repo.changed()
    assert code == 2 and "'Bad_Name' is not a team slug" in err


def test_a_symlink_is_refused_before_anything_runs(repo: Repo) -> None:
    folder = repo.team("bravo", ["bob"])
    os.symlink("/etc/passwd", folder / "weights.npy")
    code, _, err = repo.changed()
    assert code == 2
    assert "submissions/bravo/weights.npy: the pull request adds a symlink" in err


def test_a_folder_without_submission_yaml_is_refused(repo: Repo) -> None:
    (repo.path / "submissions" / "bravo").mkdir()
    (repo.path / "submissions" / "bravo" / "model.py").write_text("x = 1\n")
    code, _, err = repo.changed(author=None)
    assert code == 2 and "the folder has no submission.yaml after the pull request" in err


def test_a_team_withdrawing_its_folder_has_nothing_to_grade(repo: Repo) -> None:
    shutil.rmtree(repo.path / "submissions" / "alpha")
    code, out, err = repo.changed(author="alice")
    assert (code, out) == (0, "")
    assert "no submission to grade" in err


def test_changes_on_main_after_the_pr_branched_are_not_the_pr_s(repo: Repo) -> None:
    repo.team("bravo", ["bob"])
    head = repo.commit("the pull request")
    repo.git("checkout", "-q", "main")
    (repo.path / "events.yaml").write_text("# the instructor's later edit\n")
    moved_base = repo.commit("main moves on")
    code, out, err = run("changed", "--repo", str(repo.path), "--base", moved_base,
                         "--head", head, "--author", "bob")  # fmt: skip
    assert (code, out) == (0, "submissions/bravo\n"), err


def test_a_refusal_can_be_written_as_a_rejected_result(repo: Repo, tmp_path: Path) -> None:
    repo.team("bravo", ["bob"])
    (repo.path / "README.md").write_text("# mine now\n")
    target = tmp_path / "scope.json"
    code, _, _ = repo.changed("--json", str(target))
    assert code == 2
    doc = json.loads(target.read_text())
    assert verify.check(doc, load_rules(), str(target)) == []
    assert doc["verdict"]["code"] == "scope_violation"
    assert doc["submission"]["team"] == "bravo"
    assert [v["file"] for v in doc["verdict"]["violations"]] == ["README.md"]


@pytest.mark.parametrize("rev", ["no-such-branch", "--output=/tmp/x"])
def test_a_bad_revision_is_a_clear_error(repo: Repo, rev: str) -> None:
    code, out, err = run("changed", "--repo", str(repo.path), f"--base={rev}", "--head=HEAD")
    assert code in (2, 3) and out == ""
    assert "Traceback" not in err
    assert "is not a git revision" in err or "git rev-parse --verify failed" in err


def test_a_folder_name_ending_in_a_newline_is_not_a_slug(repo: Repo) -> None:
    repo.team("alpha\n", ["bob"], folder="alpha\n")
    code, out, err = repo.changed()
    assert code == 2 and out == ""
    assert "'alpha\\n' is not a team slug" in err


def test_scope_messages_cannot_start_a_workflow_command(repo: Repo) -> None:
    folder = repo.team("bravo", ["bob"])
    config = folder / "submission.yaml"
    forged = json.dumps("x\n::warning file=events.yaml::thresholds halved\n::add-mask::bravo")
    config.write_text(config.read_text().replace("team: bravo", f"team: {forged}"))
    stderr = io.StringIO()
    head = repo.commit("the pull request")
    code = main(["changed", "--repo", str(repo.path), "--base", repo.base, "--head", head],
                io.StringIO(), stderr)  # fmt: skip
    assert code == 2 and "team_mismatch" not in stderr.getvalue()
    assert "the team is" in stderr.getvalue()
    assert not [line for line in stderr.getvalue().splitlines() if line.startswith("::")]


def test_a_blobless_clone_without_its_remote_fails_closed(repo: Repo, tmp_path: Path) -> None:
    """actions/checkout with sparse-checkout makes a blobless clone: the base's
    submission.yaml of another team may be missing; that must not make the folder look new."""
    (repo.path / "submissions" / "alpha" / "model.py").write_text("def build_model(): ...\n")
    repo.team("alpha", ["alice", "mallory"])
    head = repo.commit("mallory joins alpha")
    remote = tmp_path / "remote.git"
    repo.git("clone", "-q", "--bare", str(repo.path), str(remote))
    subprocess.run(["git", "-C", str(remote), "config", "uploadpack.allowFilter", "true"],
                   check=True)  # fmt: skip
    clone = tmp_path / "blobless"
    repo.git("clone", "-q", "--filter=blob:none", "--no-checkout", f"file://{remote}", str(clone))
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", head], check=True)
    shutil.rmtree(remote)  # persist-credentials: false: the clone cannot fetch what it lacks
    code, out, err = run("changed", "--repo", str(clone), "--base", repo.base, "--head", head,
                         "--author", "mallory")  # fmt: skip
    assert code == 3 and out == ""  # git could not answer: an error, not a verdict
    assert "could not fetch" in err and "Traceback" not in err
