# Unit tests for policies/access.rego. Run with `opa test policies/` or `warden policy test`.
package access_test

# A well-formed low-risk request; each test changes what it needs with object.union (deep merge).
base := {
	"version": "warden.policy.input/v4",
	"subject": {"type": "person"},
	"requester": {
		"id": "alice",
		"display_name": "Alice Example",
		"groups": ["engineering"],
		"manager": "bob",
		"account": {"platform": "slack", "workspace": "T0001", "user_id": "U0ALICE"},
	},
	"intent": {
		"action": "request",
		"resource": "billing-db",
		"role": "read",
		"duration_secs": 3600,
		"justification": "INC-4411 investigation",
		"ticket": "INC-4411",
		"request_id": null,
		"break_glass": false,
		"notes": [],
	},
	"resource": {
		"id": "billing-db",
		"name": "Billing DB",
		"risk": "low",
		"owners": ["carol", "dave"],
		"max_duration_secs": 14400,
		"break_glass": false,
		"tags": ["prod"],
		"services": ["billing"],
	},
	"time": "2025-01-01T12:00:00Z",
	"channel": {"platform": "slack", "workspace": "T0001", "channel": "C0001", "kind": "channel"},
	"context": {"is_extension": false, "extensions_so_far": 0},
	"oncall": {"known": true, "on_call": false, "services": [], "source": "pagerduty"},
}

with_risk(risk) := object.union(base, {"resource": {"risk": risk}})

# The same request from agent ci-migrate (owner carol), inside its ceiling, 30 minutes at most.
agent(risk) := object.union(with_risk(risk), {
	"subject": {"type": "agent", "agent": {
		"id": "ci-migrate",
		"name": "Billing migrations",
		"owner": "carol",
		"max_duration_secs": 3600,
		"max_concurrent_grants": 1,
		"ceiling": [{"resource": "billing-db", "roles": ["read"]}],
		"within_ceiling": true,
		"claims": {"iss": "https://token.actions.githubusercontent.com", "sub": "repo:acme/billing:ref:refs/heads/main"},
	}},
	"requester": {"id": "ci-migrate", "display_name": "Billing migrations", "groups": [], "manager": null},
})

contractor(risk) := object.union(with_risk(risk), {"requester": {"groups": ["contractors"]}})

extension(risk, so_far) := object.union(with_risk(risk), {
	"intent": {"action": "extend"},
	"context": {"is_extension": true, "extensions_so_far": so_far},
})

break_glass(groups, enabled) := object.union(with_risk("critical"), {
	"requester": {"groups": groups},
	"intent": {"break_glass": true},
	"resource": {"break_glass": enabled},
})

# --- risk levels ---------------------------------------------------------------------------------

test_low_risk_is_allowed if {
	d := data.access.decision with input as with_risk("low")
	d.outcome == "allow"
	d.approvals == []
	d.break_glass == false
}

test_medium_risk_needs_one_manager_approval if {
	d := data.access.decision with input as with_risk("medium")
	d.outcome == "require_approval"
	d.approvals == [{"from": "manager", "count": 1}]
	d.deny_reason_required == false
}

test_high_risk_needs_manager_approval_and_says_why if {
	d := data.access.decision with input as with_risk("high")
	d.outcome == "require_approval"
	d.approvals == [{"from": "manager", "count": 1}]
	count(d.reasons) > 0
	contains(d.reasons[0], "high-risk")
}

# --- reasons: the policy's obligation, not a rule in code ---------------------------------------

test_high_and_critical_risk_require_a_reason if {
	every risk in ["high", "critical"] {
		d := data.access.decision with input as with_risk(risk)
		"reason_required" in d.obligations
	}
}

test_low_and_medium_risk_need_no_reason if {
	every risk in ["low", "medium"] {
		d := data.access.decision with input as with_risk(risk)
		d.obligations == []
	}
}

test_the_risks_that_need_a_reason_are_configuration if {
	d := data.access.decision with input as with_risk("high")
		with data.warden.config as {"reason_required_risks": ["critical"]}
	d.obligations == []
}

test_a_deny_carries_no_obligation if {
	d := data.access.decision with input as contractor("critical")
	d.outcome == "deny"
	d.obligations == []
}

test_critical_needs_manager_then_owners_and_deny_reasons if {
	d := data.access.decision with input as with_risk("critical")
	d.outcome == "require_approval"
	d.approvals == [{"from": "manager", "count": 1}, {"from": "owners", "count": 1}]
	d.deny_reason_required == true
}

# --- step-up -------------------------------------------------------------------------------------

test_critical_approvals_need_a_passkey_and_others_do_not if {
	data.access.decision.obligations == ["reason_required", "step_up"] with input as with_risk("critical")
	every risk in ["medium", "high"] {
		d := data.access.decision with input as with_risk(risk)
		not "step_up" in d.obligations
	}
}

test_step_up_risks_are_configurable if {
	d := data.access.decision with input as with_risk("high")
		with data.warden.config as {"step_up_risks": ["high", "critical"]}
	d.obligations == ["reason_required", "step_up"]
	e := data.access.decision with input as with_risk("critical")
		with data.warden.config as {"step_up_risks": []}
	e.obligations == ["reason_required"]
}

test_break_glass_needs_a_passkey_only_when_configured if {
	i := break_glass(["oncall"], true)
	d := data.access.decision with input as i
	d.outcome == "allow"
	d.obligations == []
	e := data.access.decision with input as i with data.warden.config as {"step_up_break_glass": true}
	e.outcome == "allow"
	e.obligations == ["step_up"]
}

test_requester_without_manager_is_approved_by_owners if {
	i := object.union(with_risk("medium"), {"requester": {"manager": null}})
	d := data.access.decision with input as i
	d.outcome == "require_approval"
	d.approvals == [{"from": "owners", "count": 1}]
}

test_unknown_risk_is_denied if {
	d := data.access.decision with input as with_risk("extreme")
	d.outcome == "deny"
}

# --- restricted groups ---------------------------------------------------------------------------

test_contractor_is_denied_high_risk if {
	d := data.access.decision with input as contractor("high")
	d.outcome == "deny"
	some r in d.reasons
	contains(r, "contractors")
}

test_contractor_is_denied_critical_risk if {
	d := data.access.decision with input as contractor("critical")
	d.outcome == "deny"
}

test_contractor_may_still_request_medium_risk if {
	d := data.access.decision with input as contractor("medium")
	d.outcome == "require_approval"
}

# --- duration and action -------------------------------------------------------------------------

test_duration_over_resource_maximum_is_denied if {
	i := object.union(base, {"intent": {"duration_secs": 14401}})
	d := data.access.decision with input as i
	d.outcome == "deny"
	some r in d.reasons
	contains(r, "longer than")
}

test_duration_equal_to_maximum_is_allowed if {
	i := object.union(base, {"intent": {"duration_secs": 14400}})
	d := data.access.decision with input as i
	d.outcome == "allow"
}

test_missing_duration_is_denied if {
	i := object.union(base, {"intent": {"duration_secs": null}})
	d := data.access.decision with input as i
	d.outcome == "deny"
}

test_revoke_is_not_an_access_grant if {
	i := object.union(base, {"intent": {"action": "revoke"}})
	d := data.access.decision with input as i
	d.outcome == "deny"
}

test_status_is_not_an_access_grant if {
	i := object.union(base, {"intent": {"action": "status"}})
	d := data.access.decision with input as i
	d.outcome == "deny"
}

test_mismatched_resource_is_denied if {
	i := object.union(base, {"intent": {"resource": "other-db"}})
	d := data.access.decision with input as i
	d.outcome == "deny"
}

# --- break-glass ---------------------------------------------------------------------------------

test_break_glass_by_oncall_on_enabled_resource_is_allowed_and_flagged if {
	d := data.access.decision with input as break_glass(["oncall"], true)
	d.outcome == "allow"
	d.break_glass == true
	contains(d.reasons[0], "break-glass")
}

test_break_glass_by_someone_not_oncall_is_denied if {
	d := data.access.decision with input as break_glass(["engineering"], true)
	d.outcome == "deny"
	d.break_glass == false
	count(d.reasons) > 0
}

test_break_glass_on_resource_without_it_is_denied if {
	d := data.access.decision with input as break_glass(["oncall"], false)
	d.outcome == "deny"
	some r in d.reasons
	contains(r, "not enabled")
}

test_break_glass_by_oncall_contractor_is_denied if {
	d := data.access.decision with input as break_glass(["oncall", "contractors"], true)
	d.outcome == "deny"
}

# --- extensions ----------------------------------------------------------------------------------

test_first_extension_of_low_risk_is_allowed if {
	d := data.access.decision with input as extension("low", 0)
	d.outcome == "allow"
}

test_extension_of_medium_risk_needs_manager_again if {
	d := data.access.decision with input as extension("medium", 1)
	d.outcome == "require_approval"
	d.approvals == [{"from": "manager", "count": 1}]
	some r in d.reasons
	contains(r, "extension 2 of at most 2")
}

test_extension_of_high_risk_needs_manager_again if {
	d := data.access.decision with input as extension("high", 0)
	d.outcome == "require_approval"
	d.approvals == [{"from": "manager", "count": 1}]
}

test_third_extension_is_denied if {
	d := data.access.decision with input as extension("low", 2)
	d.outcome == "deny"
	some r in d.reasons
	contains(r, "limit is 2")
}

# --- configuration -------------------------------------------------------------------------------

test_max_extensions_comes_from_config if {
	d := data.access.decision with input as extension("low", 2) with data.warden.config as {"max_extensions": 3}
	d.outcome == "allow"
}

test_break_glass_groups_come_from_config if {
	d := data.access.decision with input as break_glass(["sre"], true) with data.warden.config as {"break_glass_groups": ["sre"]}
	d.outcome == "allow"
	d.break_glass == true
}

# --- the document is always complete ------------------------------------------------------------

test_empty_input_is_denied_with_a_reason if {
	d := data.access.decision with input as {}
	d.outcome == "deny"
	count(d.reasons) > 0
}

test_unknown_input_version_is_denied if {
	i := object.union(base, {"version": "warden.policy.input/v9"})
	d := data.access.decision with input as i
	d.outcome == "deny"
}

test_decision_has_exactly_the_documented_fields if {
	every risk in ["low", "medium", "high", "critical", "nonsense"] {
		d := data.access.decision with input as with_risk(risk)
		object.keys(d) == {"outcome", "reasons", "approvals", "break_glass", "deny_reason_required", "obligations"}
	}
}

# --- agents --------------------------------------------------------------------------------------

test_agent_low_risk_within_ceiling_is_allowed_at_once if {
	d := data.access.decision with input as agent("low")
	d.outcome == "allow"
	d.break_glass == false
	contains(d.reasons[0], "ci-migrate")
}

test_agent_medium_and_high_risk_need_the_owner if {
	every risk in ["medium", "high"] {
		d := data.access.decision with input as agent(risk)
		d.outcome == "require_approval"
		d.approvals == [{"from": "users", "users": ["carol"], "count": 1}]
	}
}

test_agent_critical_needs_the_owner_then_a_resource_owner if {
	d := data.access.decision with input as agent("critical")
	d.outcome == "require_approval"
	d.approvals == [{"from": "users", "users": ["carol"], "count": 1}, {"from": "owners", "count": 1}]
	d.deny_reason_required == true
	"step_up" in d.obligations
}

test_agent_outside_its_ceiling_is_denied_at_any_risk if {
	every risk in ["low", "medium", "critical"] {
		i := object.union(agent(risk), {"subject": {"agent": {"within_ceiling": false}}})
		d := data.access.decision with input as i
		d.outcome == "deny"
		some r in d.reasons
		contains(r, "outside what agent ci-migrate may ever ask for")
	}
}

test_agent_longer_than_its_maximum_is_denied if {
	i := object.union(agent("low"), {"intent": {"duration_secs": 3601}})
	d := data.access.decision with input as i
	d.outcome == "deny"
	some r in d.reasons
	contains(r, "longer than agent ci-migrate")
}

test_agent_never_gets_break_glass if {
	i := object.union(agent("critical"), {
		"intent": {"break_glass": true},
		"resource": {"break_glass": true},
		"requester": {"groups": ["oncall"]},
	})
	d := data.access.decision with input as i
	d.outcome == "deny"
	d.break_glass == false
	some r in d.reasons
	contains(r, "never available to agents")
}

test_agent_without_an_owner_is_denied if {
	i := object.union(agent("medium"), {"subject": {"agent": {"owner": ""}}})
	d := data.access.decision with input as i
	d.outcome == "deny"
}

test_agent_critical_on_a_resource_without_owners_is_denied if {
	i := object.union(agent("critical"), {"resource": {"owners": []}})
	d := data.access.decision with input as i
	d.outcome == "deny"
}

test_agent_rules_never_use_the_manager if {
	i := object.union(agent("high"), {"requester": {"manager": "bob"}})
	d := data.access.decision with input as i
	d.approvals == [{"from": "users", "users": ["carol"], "count": 1}]
}

test_missing_subject_is_denied if {
	i := object.remove(base, {"subject"})
	d := data.access.decision with input as i
	d.outcome == "deny"
}

# --- on call -------------------------------------------------------------------------------------

# Alice on call now for `services`, asking for `secs` at `risk` on the billing db (service billing).
on_call(risk, services, secs) := object.union(with_risk(risk), {
	"oncall": {"known": true, "on_call": true, "services": services, "source": "pagerduty"},
	"intent": {"duration_secs": secs},
})

test_on_call_for_the_resources_service_is_allowed_without_approval if {
	d := data.access.decision with input as on_call("high", ["billing"], 7200)
	d.outcome == "allow"
	d.approvals == []
	d.break_glass == false
	some r in d.reasons
	contains(r, "on call for billing")
}

test_on_call_high_risk_still_asks_for_a_reason if {
	d := data.access.decision with input as on_call("high", ["billing"], 3600)
	d.obligations == ["reason_required"]
}

test_on_call_for_another_service_follows_the_normal_rules if {
	d := data.access.decision with input as on_call("high", ["search"], 3600)
	d.outcome == "require_approval"
	d.approvals == [{"from": "manager", "count": 1}]
}

test_on_call_longer_than_the_shorter_maximum_needs_approval if {
	d := data.access.decision with input as on_call("high", ["billing"], 7201)
	d.outcome == "require_approval"
}

test_on_call_never_skips_approval_for_critical_access if {
	d := data.access.decision with input as on_call("critical", ["billing"], 600)
	d.outcome == "require_approval"
	count(d.approvals) == 2
}

test_on_call_maximum_is_configurable if {
	d := data.access.decision with input as on_call("high", ["billing"], 7200)
		with data.warden.config as {"oncall_max_duration_secs": 3600}
	d.outcome == "require_approval"
}

test_an_unknown_on_call_answer_is_not_on_call if {
	i := object.union(on_call("high", ["billing"], 3600), {"oncall": {"known": false}})
	d := data.access.decision with input as i
	d.outcome == "require_approval"
}

test_a_recorded_v3_input_without_oncall_is_not_on_call if {
	i := object.remove(object.union(with_risk("high"), {"version": "warden.policy.input/v3"}), {"oncall"})
	d := data.access.decision with input as i
	d.outcome == "require_approval"
}

test_on_call_extensions_follow_the_normal_rules if {
	i := object.union(on_call("high", ["billing"], 3600), {
		"intent": {"action": "extend"},
		"context": {"is_extension": true, "extensions_so_far": 0},
	})
	d := data.access.decision with input as i
	d.outcome == "require_approval"
}

test_on_call_never_lifts_a_denial if {
	i := object.union(on_call("high", ["billing"], 3600), {"requester": {"groups": ["contractors"]}})
	d := data.access.decision with input as i
	d.outcome == "deny"
}

test_an_agent_is_never_on_call if {
	i := object.union(agent("high"), {"oncall": {"known": true, "on_call": true, "services": ["billing"]}})
	d := data.access.decision with input as i
	d.outcome == "require_approval"
	d.approvals == [{"from": "users", "users": ["carol"], "count": 1}]
}

# Kill switch: lifting a freeze needs a passkey, freezing does not, unless configured.
admin(action) := {
	"version": "warden.policy.admin/v1",
	"action": action,
	"actor": {"name": "admin:dana", "person": "dana", "via": "web"},
	"freeze": {"id": "FZ-12345678", "scope": "everything", "target": ""},
	"time": "2025-01-01T12:00:00Z",
}

test_unfreeze_requires_step_up if {
	d := data.access.admin_decision with input as admin("unfreeze")
	d.outcome == "allow"
	d.obligations == ["step_up"]
}

test_freeze_is_direct_by_default if {
	d := data.access.admin_decision with input as admin("freeze")
	d.outcome == "allow"
	d.obligations == []
}

test_a_team_may_require_step_up_for_freezing if {
	d := data.access.admin_decision with input as admin("freeze")
		with data.warden.config as {"step_up_admin_actions": ["freeze", "unfreeze"]}
	d.obligations == ["step_up"]
}

test_admin_decision_is_undefined_for_other_documents if {
	not data.access.admin_decision with input as base
}
