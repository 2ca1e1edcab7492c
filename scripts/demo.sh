#!/usr/bin/env bash
# Rehearse the whole migration on the local sandbox: phases 1 to 4, a full rollback drill from
# 50%, and the decommission of LiteLLM. Every command's exit code is checked against what the
# rehearsal expects; the first surprise stops the demo with a non-zero exit.
set -uo pipefail
export CATO_ENV=local
export CATO_WORK_DIR="${CATO_WORK_DIR:-.cato-migrate/demo}"
export CATO_DRAIN_QUIET_SECONDS="${CATO_DRAIN_QUIET_SECONDS:-2}"
export CATO_LEGACY_REPLICAS="${CATO_LEGACY_REPLICAS:-1}"
rm -rf "$CATO_WORK_DIR"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
expect() {  # expect CODES command...: CODES is one exit code, or several as 0|1 (a measured verdict)
  local want=$1; shift
  printf '\033[2m$ %s\033[0m\n' "$*"
  "$@"; local got=$?
  case "|$want|" in
    *"|$got|"*) ;;
    *) printf '\033[31mdemo: expected exit %s from "%s", got %s\033[0m\n' "$want" "$*" "$got" >&2
       exit 1 ;;
  esac
}
trap 'step "sandbox down"; cato-migrate sandbox down' EXIT

step "start the sandbox: moto, AppConfig layer, DynamoDB layer, redis, model simulator, LiteLLM (legacy), gateway"
expect 0 cato-migrate sandbox up
expect 0 cato-migrate phase list

step "phase 1 (weeks 1-4): dry run, then wait for the kickoff sign-off"
expect 0 cato-migrate phase run 1 --dry-run
expect 1 cato-migrate phase run 1
expect 0 cato-migrate attest p1.w1.announce-kickoff --by demo --note "timeline announced"
step "phase 1: images, SageMaker endpoints, KubeRay operator (local: Ray head), the RayService (local: Ray Serve), suites, load test"
expect 0 cato-migrate phase run 1
expect 0 cato-migrate validate 1

step "phase 2 (weeks 5-8): routing, context, breaker, cache probed on the running orchestrator"
expect 0 cato-migrate attest p2.w8.midpoint-update --by demo --note "stakeholders updated"
expect 0 cato-migrate phase run 2
expect 0 cato-migrate validate 2

step "phase 3 (weeks 9-12): DynamoDB global tables, OpenSearch, consolidation, memory suite"
expect 0 cato-migrate phase run 3
expect 0 cato-migrate validate 3

step "phase 4, week 13: the canary waits for on-call to be alerted, then 10% (phases 1-3 passed: no override)"
expect 1 cato-migrate phase run 4 --week 13
expect 0 cato-migrate attest p4.w13.alert-oncall --by demo --note "#cato-oncall alerted"
expect 0 cato-migrate phase run 4 --week 13

step "automatic rollback drill at 10%: errors planted on the new stack only; canary watch rolls back by itself"
cato-migrate sandbox traffic --users 300 --rps 40 --for 120s >/dev/null 2>&1 &
traffic=$!
expect 0 cato-migrate sandbox fault --stack new --error-rate 0.2
expect 1 cato-migrate canary watch --interval 2 --window 30 --for 120s --auto-rollback
kill "$traffic" 2>/dev/null; wait "$traffic" 2>/dev/null
expect 0 cato-migrate sandbox fault --clear
expect 0 cato-migrate history --limit 3
step "the new stack's circuit breakers close again after their 30 s cooldown; then resume and back to 10%"
sleep 31
expect 0 cato-migrate canary resume --reason "auto-rollback drill over"
expect 0 cato-migrate canary set 10
step "week 14: the promotion gate refuses 50% until 10% has soaked and the analysis passes; a rehearsal forces it"
expect 1 cato-migrate canary set 50
expect 0 cato-migrate canary set 50 --force --reason "sandbox rehearsal: the stage soak is compressed away"
expect 0 cato-migrate phase run 4 --week 14
expect 0 cato-migrate canary status
step "week 14 at 50%: canary analyze compares both stacks over one window of the same live traffic"
cato-migrate sandbox traffic --users 300 --rps 40 --for 40s >/dev/null 2>&1 &
traffic=$!
sleep 25
expect '0|1' cato-migrate canary analyze --window 22  # pass or fail: the verdict is what was measured
kill "$traffic" 2>/dev/null; wait "$traffic" 2>/dev/null

step "drill at 50%: quick rollback (held until resumed), back to 10 and 50, then the full rollback in the safe order"
expect 0 cato-migrate rollback --quick --dry-run
expect 0 cato-migrate rollback --quick --reason "drill"
expect 1 cato-migrate canary set 10
expect 0 cato-migrate canary resume --reason "drill over"
expect 0 cato-migrate canary set 10 --dry-run
expect 0 cato-migrate canary set 10
expect 0 cato-migrate canary set 50 --force --reason "sandbox rehearsal: the stage soak is compressed away"
expect 0 cato-migrate rollback --full --reason "drill"
expect 0 cato-migrate canary status --output json
expect 0 cato-migrate sandbox status

step "back on track: the orchestrator again, 10 -> 50 -> 100"
expect 0 cato-migrate orchestrator install
expect 0 cato-migrate canary resume --reason "full rollback drill over"
expect 0 cato-migrate canary set 10
expect 0 cato-migrate canary set 50 --force --reason "sandbox rehearsal: the stage soak is compressed away"
step "week 15-16: 100%, LiteLLM to 0; deleting it waits for the monitoring week"
expect 0 cato-migrate canary set 100 --force --reason "sandbox rehearsal: the stage soak is compressed away"
expect 1 cato-migrate phase run 4
expect 1 cato-migrate decommission --delete
step "drill in the monitoring week: the full rollback starts LiteLLM again BEFORE it moves traffic"
expect 0 cato-migrate rollback --full --reason "drill during monitoring"
expect 0 cato-migrate orchestrator install
expect 0 cato-migrate canary resume --reason "monitoring drill over"
expect 0 cato-migrate canary set 10
expect 0 cato-migrate canary set 50 --force --reason "sandbox rehearsal: the stage soak is compressed away"
expect 0 cato-migrate canary set 100 --force --reason "sandbox rehearsal: the stage soak is compressed away"
step "what it costs: the same mix through both stacks, priced per 1,000 requests"
expect 0 cato-migrate cost measure --requests 40
expect 0 cato-migrate cost status
expect 0 cato-migrate decommission --dry-run
expect 0 cato-migrate decommission
step "a rehearsal cannot wait a week: delete now, with a reason (audited)"
expect 0 cato-migrate decommission --delete --force --reason "sandbox rehearsal"
expect 1 cato-migrate phase run 4
expect 0 cato-migrate attest p4.w16.announce-completion --by demo --note "announced; retro booked; docs updated"
expect 0 cato-migrate attest p4.w16.team-trained --by demo --note "on-call trained"
expect 0 cato-migrate phase run 4
expect 0 cato-migrate validate 4

step "what happened"
expect 0 cato-migrate history
expect 0 cato-migrate status
step "the success report of this rehearsal (the page for stakeholders: $CATO_WORK_DIR/report.html)"
expect 0 cato-migrate report
expect 0 cato-migrate report --output html --out "$CATO_WORK_DIR/report.html"
step "rehearsal complete"
