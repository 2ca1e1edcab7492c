#!/usr/bin/env bash
# Rehearse the runbook on the local sandbox, as far as it is implemented.
# Every command's exit code is checked against what the rehearsal expects.
set -uo pipefail
export CATO_ENV=local
export CATO_WORK_DIR="${CATO_WORK_DIR:-.cato-migrate/demo}"
rm -rf "$CATO_WORK_DIR"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
expect() {  # expect CODE command...
  local want=$1; shift
  printf '\033[2m$ %s\033[0m\n' "$*"
  "$@"; local got=$?
  if [ "$got" != "$want" ]; then
    printf '\033[31mdemo: expected exit %s from "%s", got %s\033[0m\n' "$want" "$*" "$got" >&2
    exit 1
  fi
}
trap 'step "sandbox down"; cato-migrate sandbox down' EXIT

step "start the sandbox (moto, AppConfig deployment layer, redis-server, model simulator)"
expect 0 cato-migrate sandbox up
step "the runbook"
expect 0 cato-migrate phase list
step "phase 1 dry run: what each step would do"
expect 0 cato-migrate phase run 1 --dry-run
step "phase 1 waits for the kickoff sign-off, then stops at the first step not implemented yet"
expect 1 cato-migrate phase run 1
expect 0 cato-migrate attest p1.w1.announce-kickoff --by demo --note "timeline announced"
expect 1 cato-migrate phase run 1
step "phase 1 exit criteria: not implemented yet is never a pass (exit 1)"
expect 1 cato-migrate validate 1
step "phase 2: install the orchestrator on a local Ray cluster and check it end to end"
expect 0 cato-migrate orchestrator install
expect 0 cato-migrate orchestrator check
expect 0 cato-migrate attest p2.w8.midpoint-update --by demo --note "stakeholders updated"
expect 0 cato-migrate phase run 2
expect 0 cato-migrate validate 2
step "offline evaluations of routing and the semantic cache on the shipped labelled sets"
expect 0 cato-migrate eval routing --cases evals/routing_cases.jsonl
expect 0 cato-migrate eval cache --pairs evals/cache_pairs.jsonl
step "week 13: the canary waits for on-call to be alerted"
expect 0 cato-migrate attest p4.w13.alert-oncall --by demo --note "#cato-oncall alerted"
step "raising traffic is refused while phases 1-3 have not passed"
expect 1 cato-migrate phase run 4 --week 13
step "a rehearsal overrides the guardrail, with a reason (audited)"
expect 0 cato-migrate phase run 4 --week 13 --force --reason "sandbox rehearsal"
expect 0 cato-migrate canary status
step "50%, then the quick rollback drill"
expect 0 cato-migrate canary set 50 --force --reason "sandbox rehearsal"
expect 0 cato-migrate rollback --quick --reason "drill"
expect 0 cato-migrate canary status --output json
step "what happened"
expect 0 cato-migrate history
expect 0 cato-migrate status
step "rehearsal complete"
