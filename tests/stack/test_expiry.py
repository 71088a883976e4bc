"""make check-expiry: the scheduled pipeline's alarm for credentials nobody renewed."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

from tests.conftest import NOW, secret_client
from tools.offline.values import self_signed_pem
from tools.stack import expiry


def run_check(tmp_path: Path, outputs: Any, *extra: str) -> tuple[int, str, str]:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    out, err = io.StringIO(), io.StringIO()
    code = expiry.main(["--stack", "prod", "--outputs", str(path), *extra], out, err, now=NOW)
    return code, out.getvalue(), err.getvalue()


def test_a_freshly_deployed_stack_passes(tmp_path: Path, run_at: Any) -> None:
    pem = self_signed_pem("hr", NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=200))
    run = run_at({"clients": {"secret": secret_client(), "cert": {"kind": "servicePrincipal", "credential": {
        "type": "certificate", "pem": pem}}, "logic": {"kind": "managedIdentity", "existing": {
            "displayName": "CSV2SCIMBulkUpload"}}}})
    code, text, _ = run_check(tmp_path, run.outputs)
    assert code == 0, text
    assert "| logic | managedIdentity | - | - | no expiry |" in text
    assert text.count("| ok |") == 2
    assert "mock-secret-value" not in text, "only the clients output is read"


def test_expired_and_soon_expiring_credentials_fail(tmp_path: Path) -> None:
    clients = {
        "old": {"credentialType": "certificate", "credentialExpiresAt": "2026-11-01T00:00:00Z"},
        "soon": {"credentialType": "certificate", "credentialExpiresAt": "2026-12-10T00:00:00Z"},
        "fine": {"credentialType": "secret", "credentialExpiresAt": "2027-03-01T00:00:00Z",
                 "credentialRenewsAt": "2027-01-21T00:00:00Z"},
    }
    code, text, _ = run_check(tmp_path, {"clients": clients})
    assert code == 1
    assert "| old | certificate | 2026-11-01T00:00:00Z | - | EXPIRED |" in text
    assert "| soon | certificate | 2026-12-10T00:00:00Z | - | EXPIRES IN 12 DAYS |" in text
    assert "| fine | secret | 2027-03-01T00:00:00Z | 2027-01-21T00:00:00Z | ok |" in text
    assert "2 client(s) need a new credential" in text
    assert run_check(tmp_path, {"clients": {"soon": clients["soon"]}}, "--days", "7")[0] == 0


def test_a_secret_or_certificate_without_an_end_date_is_not_passed_as_never_expiring(tmp_path: Path) -> None:
    clients = {"hr": {"credentialType": "secret"}, "gen": {"credentialType": "certificate"},
               "fed": {"credentialType": "federated"}}
    code, text, _ = run_check(tmp_path, {"clients": clients})
    assert code == 1
    assert "| hr | secret | - | - | END DATE UNKNOWN: no credentialExpiresAt in the outputs |" in text
    assert "| gen | certificate | - | - | END DATE UNKNOWN" in text
    assert "| fed | federated | - | - | no expiry |" in text


def test_unreadable_outputs_are_a_usage_error(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert expiry.main(["--stack", "prod", "--outputs", str(tmp_path / "missing.json")], out, err) == 2
    assert "cannot read" in err.getvalue()
    code, _, error = run_check(tmp_path, ["not", "outputs"])
    assert code == 2
    assert "no `clients` map" in error


def history(*entries: tuple[str, str, dt.datetime]) -> list[dict[str, Any]]:
    """``pulumi stack history --json``, newest first, in Pulumi's own time layout."""
    return [{"version": len(entries) - i, "kind": kind, "result": result, "message": "",
             "startTime": started.strftime("%Y-%m-%d %H:%M:%S +0000 UTC"),
             "endTime": (started + dt.timedelta(minutes=3)).strftime("%Y-%m-%d %H:%M:%S +0000 UTC"),
             "environment": {}, "config": {}}
            for i, (kind, result, started) in enumerate(entries)]


def days_ago(days: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days)


FINE = {"clients": {"hr": {"credentialType": "secret", "credentialExpiresAt": "2027-06-01T00:00:00Z"}}}


def run_with_history(tmp_path: Path, entries: list[dict[str, Any]], *extra: str) -> tuple[int, str, str]:
    path = tmp_path / "history.json"
    path.write_text(json.dumps(entries))
    return run_check(tmp_path, FINE, "--history", str(path), *extra)


def test_a_weekly_deployed_stack_says_when_and_passes(tmp_path: Path) -> None:
    code, text, _ = run_with_history(tmp_path, history(("update", "succeeded", days_ago(2)),
                                                       ("refresh", "succeeded", days_ago(5)),
                                                       ("update", "succeeded", days_ago(9))))
    assert code == 0, text
    assert "Last deployed: 2026-11-25 09:30 UTC (2 days ago)." in text
    assert "Deploy before that: 2026-11-18 09:30 UTC (9 days ago)." in text
    assert "STALE" not in text


def test_a_paused_schedule_fails_and_says_how_to_re_enable_it(tmp_path: Path) -> None:
    # 61 days: GitHub turned the weekly run off after 60 days without repository activity.
    code, text, _ = run_with_history(tmp_path, history(("update", "failed", days_ago(40)),
                                                       ("update", "succeeded", days_ago(61))))
    assert code == 1
    assert "STALE: no deploy has succeeded for 61 days (more than 15)." in text
    assert "Latest update: failed, 2026-10-18 09:30 UTC (40 days ago)." in text
    assert "gh workflow enable scheduled.yml" in text
    assert "60 days" in text
    assert run_with_history(tmp_path, history(("update", "succeeded", days_ago(61))),
                            "--max-deploy-age", "90")[0] == 0


def test_the_first_deploy_after_a_pause_shows_the_gap(tmp_path: Path) -> None:
    # What the deploy workflow's check shows right after a push ended a 90-day pause.
    code, text, _ = run_with_history(tmp_path, history(("update", "succeeded", days_ago(0)),
                                                       ("update", "succeeded", days_ago(90))))
    assert code == 1
    assert "the deploy before the last one was 90 days earlier" in text


def test_a_stack_never_deployed_and_an_unreadable_history(tmp_path: Path) -> None:
    code, text, _ = run_with_history(tmp_path, [])
    assert (code, "Last deployed: never" in text) == (0, True)
    code, _, error = run_with_history(tmp_path, [{"kind": "update", "startTime": "yesterday"}])
    assert code == 2
    assert "unreadable time" in error
    assert "Last deployed: not read" in run_check(tmp_path, FINE)[1], "offline without --history"


def test_rfc3339_times_read_too() -> None:
    from tools.stack.history import parse_time

    assert parse_time("2026-11-25T09:30:00Z") == parse_time("2026-11-25 10:30:00 +0100 CET") == days_ago(2)


def test_the_clients_output_and_history_come_from_the_pulumi_cli(tmp_path: Path, monkeypatch: Any) -> None:
    """Only the non-secret `clients` output is asked for: the check decrypts nothing."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "args.txt"
    stand_in = bin_dir / "pulumi"
    updates = history(("update", "succeeded", days_ago(3)))
    stand_in.write_text(f"#!/usr/bin/env bash\necho \"$*\" >> {log}\n"
                        f"case \"$2\" in history) echo '{json.dumps(updates)}';; *) echo '{json.dumps(FINE)}';; esac\n")
    stand_in.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    out, err = io.StringIO(), io.StringIO()
    assert expiry.main(["--stack", "prod"], out, err, now=NOW) == 0, err.getvalue()
    assert log.read_text().splitlines() == ["stack output clients --json --stack prod",
                                            "stack history --page-size 20 --json --stack prod"]
    assert "| hr | secret | 2027-06-01T00:00:00Z | - | ok |" in out.getvalue()
    assert "Last deployed: 2026-11-24 09:30 UTC (3 days ago)." in out.getvalue()
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert expiry.main(["--stack", "prod"], out, err, now=NOW) == 2
    assert "not on PATH; give the outputs with --outputs FILE" in err.getvalue()
