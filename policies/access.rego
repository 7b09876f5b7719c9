# Warden's shipped access policy (Rego v1).
#
# Evaluated at `data.access.decision` with the versioned input document described in
# docs/policy.md (`input.version` "warden.policy.input/v4", or v2/v3 when replaying recorded
# inputs). The rule always produces exactly one document of this shape:
#
#   {"outcome": "allow" | "deny" | "require_approval",
#    "reasons": ["..."],                       # shown to the requester and kept in the log
#    "approvals": [{"from": "manager" | "owners" | "group" | "users", "count": n, ...}],
#    "break_glass": bool,
#    "deny_reason_required": bool,
#    "obligations": [] | ["reason_required", "step_up"]}   # see docs/policy.md
#        reason_required: the requester must say why before anything is decided
#        step_up: approvals (or the activation) count only when confirmed with a passkey
#
# Approval steps run in order. Anything this policy does not explicitly allow is denied, and the
# Rust side denies an undefined result or any extra field as well (fail closed).
#
# In short:
#   * only the actions "request" and "extend" are granted; the rest is not this policy's business
#   * every grant needs a positive duration no longer than the resource's maximum
#   * restricted groups (contractors) never get high or critical access
#   * break-glass: members of a break-glass group (oncall) on a resource that enables it get
#     immediate access, flagged for review; any other break-glass request is denied
#   * extensions: at most `max_extensions` (2) per grant; each one is decided like a new request
#   * on call: an engineer on call now for a service the resource belongs to gets it at once,
#     up to `oncall_max_duration_secs` (2h) and below critical risk; longer asks, critical
#     access and other services' resources follow the rules below
#   * low risk -> allow; medium and high -> the manager approves; critical -> the manager, then
#     an owner, and approvers must give a reason when they deny
#   * step-up: approvals at the `step_up_risks` levels (critical) count only when the approver
#     confirms with a passkey; with `step_up_break_glass`, so does a break-glass activation
#   * high and critical risk (`reason_required_risks`) -> the requester must give a reason before
#     the request is decided: the answer carries the `reason_required` obligation, and Warden
#     asks the requester for one instead of deciding
#   * kill switch (`data.access.admin_decision`, input "warden.policy.admin/v1"): the actions in
#     `step_up_admin_actions` (unfreeze) carry the `step_up` obligation; see docs/kill-switch.md
#   * agents (input.subject.type == "agent"): outside the agent's ceiling -> deny; longer than
#     the agent's maximum -> deny; break-glass -> never; low risk -> allowed at once; medium and
#     high -> the agent's owner approves; critical -> the owner, then a resource owner
#
# Performance note: Warden evaluates this in-process for every request. In regorus each
# reference to another rule costs a few microseconds while conditions on `input` are nearly
# free, so the checks below read `input` directly and keep helper rules few.
package access

# ---------------------------------------------------------------------------------------------
# Configuration. Defaults below; any key can be overridden with data at `data.warden.config`,
# e.g. {"warden": {"config": {"max_extensions": 3, "break_glass_groups": ["sre"]}}}.
# ---------------------------------------------------------------------------------------------

default_config := {
	# Actions that grant access and are therefore decided here.
	"allowed_actions": ["request", "extend"],
	# Members of these groups may self-activate break-glass access (on resources that allow it).
	"break_glass_groups": ["oncall"],
	# Members of these groups never get access at the restricted risk levels.
	"restricted_groups": ["contractors"],
	"restricted_risks": ["high", "critical"],
	# Extensions one grant may receive.
	"max_extensions": 2,
	# Approvals at these risk levels count only when confirmed with a passkey (step-up).
	"step_up_risks": ["critical"],
	# Whether a break-glass activation must be confirmed with the requester's passkey.
	"step_up_break_glass": false,
	# Kill-switch actions ("freeze", "unfreeze") an admin must confirm with a passkey in the web
	# UI. Lifting a freeze re-opens access, so it needs the proof; freezing stops access and must
	# never be slowed, so it does not by default (add "freeze" to require it).
	"step_up_admin_actions": ["unfreeze"],
	# Risk levels at which the requester must say why before anything is decided.
	"reason_required_risks": ["high", "critical"],
	# On-call engineers get their own service's resources at these risk levels without
	# approval, for at most this long (shorter than most resources' maximum on purpose).
	"oncall_risks": ["low", "medium", "high"],
	"oncall_max_duration_secs": 7200,
}

default overrides := {}

overrides := data.warden.config if is_object(data.warden.config)

config := object.union(default_config, overrides)

# ---------------------------------------------------------------------------------------------
# Facts about the request.
# ---------------------------------------------------------------------------------------------

# The fields every decision relies on are present and have the right types. Nothing is allowed
# or sent for approval without this, so a missing field can never let a request through.
# v3 only added `intent.items` (the other resources of a multi-item ask) and v4 `oncall` and
# `resource.services`, so a recorded v2 or v3 input still reads the same (never on call) and
# can be replayed.
known_versions := {"warden.policy.input/v2", "warden.policy.input/v3", "warden.policy.input/v4"}

well_formed if {
	input.version in known_versions
	input.subject.type in {"person", "agent"}
	is_string(input.intent.action)
	is_boolean(input.intent.break_glass)
	is_string(input.requester.id)
	is_array(input.requester.groups)
	is_string(input.resource.id)
	is_string(input.resource.name)
	input.resource.risk in {"low", "medium", "high", "critical"}
	is_array(input.resource.owners)
	is_number(input.resource.max_duration_secs)
	is_boolean(input.resource.break_glass)
	is_number(input.context.extensions_so_far)
}

is_agent if input.subject.type == "agent"

# An agent's facts are all there; nothing is decided for an agent without them.
agent_well_formed if {
	is_string(input.subject.agent.id)
	is_string(input.subject.agent.owner)
	input.subject.agent.owner != ""
	is_number(input.subject.agent.max_duration_secs)
	is_boolean(input.subject.agent.within_ceiling)
}

is_extension if input.context.is_extension == true

is_extension if input.intent.action == "extend"

has_manager if {
	is_string(input.requester.manager)
	input.requester.manager != ""
}

# ---------------------------------------------------------------------------------------------
# Reasons to deny. Any one of them denies the request; all of them are reported.
# ---------------------------------------------------------------------------------------------

deny_reasons contains "unsupported input document version (expected warden.policy.input/v4)" if {
	not input.version in known_versions
}

deny_reasons contains "the agent's registration is incomplete in the input document" if {
	is_agent
	not agent_well_formed
}

deny_reasons contains msg if {
	is_agent
	input.subject.agent.within_ceiling != true
	msg := sprintf("%v (%v) is outside what agent %v may ever ask for", [input.resource.name, input.intent.role, input.subject.agent.id])
}

deny_reasons contains msg if {
	is_agent
	input.intent.duration_secs > input.subject.agent.max_duration_secs
	msg := sprintf("%v seconds is longer than agent %v may hold access (%v seconds)", [input.intent.duration_secs, input.subject.agent.id, input.subject.agent.max_duration_secs])
}

deny_reasons contains "break-glass is never available to agents" if {
	is_agent
	input.intent.break_glass == true
}

deny_reasons contains msg if {
	is_agent
	input.resource.risk == "critical"
	count(input.resource.owners) == 0
	msg := sprintf("%v is critical and has no owners to approve an agent's access", [input.resource.name])
}

deny_reasons contains "the input document is incomplete or malformed" if not well_formed

deny_reasons contains msg if {
	not input.intent.action in config.allowed_actions
	msg := sprintf("'%v' is not an access grant; only %v are decided by policy", [input.intent.action, config.allowed_actions])
}

deny_reasons contains msg if {
	not input.resource.risk in {"low", "medium", "high", "critical"}
	msg := sprintf("%v has an unknown risk level '%v'", [input.resource.name, input.resource.risk])
}

deny_reasons contains "the request has no duration; every grant must expire" if {
	not is_number(input.intent.duration_secs)
}

deny_reasons contains "the request has no duration; every grant must expire" if {
	input.intent.duration_secs <= 0
}

deny_reasons contains msg if {
	input.intent.duration_secs > input.resource.max_duration_secs
	msg := sprintf(
		"%v seconds is longer than the %v seconds allowed on %v",
		[input.intent.duration_secs, input.resource.max_duration_secs, input.resource.name],
	)
}

deny_reasons contains "the request names a different resource than the one evaluated" if {
	is_string(input.intent.resource)
	input.intent.resource != input.resource.id
}

deny_reasons contains msg if {
	input.resource.risk in config.restricted_risks
	some group in input.requester.groups
	group in config.restricted_groups
	msg := sprintf("members of '%v' may not get %v-risk access to %v", [group, input.resource.risk, input.resource.name])
}

deny_reasons contains msg if {
	is_extension
	input.context.extensions_so_far >= config.max_extensions
	msg := sprintf(
		"this grant has already been extended %v times; the limit is %v",
		[input.context.extensions_so_far, config.max_extensions],
	)
}

deny_reasons contains msg if {
	input.intent.break_glass == true
	input.resource.break_glass != true
	msg := sprintf("break-glass access is not enabled for %v", [input.resource.name])
}

deny_reasons contains msg if {
	input.intent.break_glass == true
	input.resource.break_glass == true
	not in_break_glass_group
	msg := sprintf("break-glass access to %v is only for members of %v", [input.resource.name, config.break_glass_groups])
}

# Approval is needed but nobody could give it.
deny_reasons contains msg if {
	not is_agent
	input.intent.break_glass != true
	input.resource.risk in {"medium", "high"}
	not has_manager
	count(input.resource.owners) == 0
	msg := sprintf("nobody can approve: you have no manager in the directory and %v has no owners", [input.resource.name])
}

deny_reasons contains msg if {
	not is_agent
	input.intent.break_glass != true
	input.resource.risk == "critical"
	has_manager
	count(input.resource.owners) == 0
	msg := sprintf("%v is critical and has no owners to approve access", [input.resource.name])
}

deny_reasons contains msg if {
	not is_agent
	input.intent.break_glass != true
	input.resource.risk == "critical"
	not has_manager
	count(input.resource.owners) < 2
	msg := sprintf("%v is critical: without a manager in the directory two owners must approve, and it has fewer", [input.resource.name])
}

in_break_glass_group if {
	some group in input.requester.groups
	group in config.break_glass_groups
}

# ---------------------------------------------------------------------------------------------
# Documents.
# ---------------------------------------------------------------------------------------------

deny_doc(reasons) := {
	"outcome": "deny",
	"reasons": reasons,
	"approvals": [],
	"break_glass": false,
	"deny_reason_required": false,
	"obligations": [],
}

allow_doc(reasons, break_glass) := {
	"outcome": "allow",
	"reasons": reasons,
	"approvals": [],
	"break_glass": break_glass,
	"deny_reason_required": false,
	"obligations": reason_obligations,
}

approval_doc(steps, reasons, deny_reason_required) := {
	"outcome": "require_approval",
	"reasons": reasons,
	"approvals": steps,
	"break_glass": false,
	"deny_reason_required": deny_reason_required,
	"obligations": array.concat(reason_obligations, step_up_obligations),
}

# Step-up (a passkey) for approvals at the configured risk levels.
default step_up_obligations := []

step_up_obligations := ["step_up"] if input.resource.risk in config.step_up_risks

# Step-up for break-glass activations, when configured.
default break_glass_obligations := []

break_glass_obligations := ["step_up"] if config.step_up_break_glass == true


# What Warden must do before a decision stands. `reason_required`: the requester has to say why
# (Warden asks them, and decides again once they have); it is satisfied by a justification or
# a ticket already in the request.
default reason_obligations := []

reason_obligations := ["reason_required"] if input.resource.risk in config.reason_required_risks

# Extensions say so in the reasons.
default extension_notes := []

extension_notes := [sprintf(
	"extension %v of at most %v",
	[input.context.extensions_so_far + 1, config.max_extensions],
)] if is_extension

# ---------------------------------------------------------------------------------------------
# On call: the services the requester is on call for now that this resource belongs to. Only a
# source's answer counts (`known`): a failed lookup or an old input is never on call.
# ---------------------------------------------------------------------------------------------

oncall_services := [service |
	input.oncall.known == true
	input.oncall.on_call == true
	some service in input.resource.services
	service in input.oncall.services
]

oncall_decision := allow_doc(
	[sprintf(
		"%v (%v): you are on call for %v, so up to %v seconds are allowed without approval",
		[input.resource.name, input.intent.role, concat(", ", oncall_services), config.oncall_max_duration_secs],
	)],
	false,
) if {
	count(oncall_services) > 0
	not is_extension
	input.resource.risk in config.oncall_risks
	input.intent.duration_secs <= config.oncall_max_duration_secs
}

# ---------------------------------------------------------------------------------------------
# The decision by risk level, once nothing denies the request. Someone without a manager in the
# directory is approved by the resource's owners instead (two owners for critical access).
# ---------------------------------------------------------------------------------------------

risk_decision := allow_doc(
	array.concat([sprintf("%v (%v) is low-risk: allowed without approval", [input.resource.name, input.intent.role])], extension_notes),
	false,
) if input.resource.risk == "low"

risk_decision := approval_doc(
	[{"from": "manager", "count": 1}],
	array.concat([sprintf("%v (%v) is %v-risk: your manager must approve", [input.resource.name, input.intent.role, input.resource.risk])], extension_notes),
	false,
) if {
	input.resource.risk in {"medium", "high"}
	has_manager
}

risk_decision := approval_doc(
	[{"from": "owners", "count": 1}],
	array.concat(
		[sprintf(
			"%v (%v) is %v-risk and you have no manager in the directory: an owner of %v must approve",
			[input.resource.name, input.intent.role, input.resource.risk, input.resource.name],
		)],
		extension_notes,
	),
	false,
) if {
	input.resource.risk in {"medium", "high"}
	not has_manager
}

risk_decision := approval_doc(
	[{"from": "manager", "count": 1}, {"from": "owners", "count": 1}],
	array.concat(
		[sprintf(
			"%v (%v) is critical: your manager, then an owner of %v must approve; a denial needs a reason",
			[input.resource.name, input.intent.role, input.resource.name],
		)],
		extension_notes,
	),
	true,
) if {
	input.resource.risk == "critical"
	has_manager
}

risk_decision := approval_doc(
	[{"from": "owners", "count": 2}],
	array.concat(
		[sprintf(
			"%v (%v) is critical and you have no manager in the directory: two owners of %v must approve; a denial needs a reason",
			[input.resource.name, input.intent.role, input.resource.name],
		)],
		extension_notes,
	),
	true,
) if {
	input.resource.risk == "critical"
	not has_manager
}

# ---------------------------------------------------------------------------------------------
# An agent's decision by risk level, once nothing denies it: at once for low risk (its maximum
# duration is already enforced above), else its owner approves (and a resource owner too for
# critical access). The owner step is a named user, so nobody else can approve it.
# ---------------------------------------------------------------------------------------------

agent_decision := allow_doc(
	[sprintf("%v (%v) is low-risk and within agent %v's ceiling: granted at once", [input.resource.name, input.intent.role, input.subject.agent.id])],
	false,
) if input.resource.risk == "low"

agent_decision := approval_doc(
	[{"from": "users", "users": [input.subject.agent.owner], "count": 1}],
	[sprintf("%v (%v) is %v-risk: agent %v's owner must approve", [input.resource.name, input.intent.role, input.resource.risk, input.subject.agent.id])],
	false,
) if input.resource.risk in {"medium", "high"}

agent_decision := approval_doc(
	[{"from": "users", "users": [input.subject.agent.owner], "count": 1}, {"from": "owners", "count": 1}],
	[sprintf("%v (%v) is critical: agent %v's owner, then an owner of %v must approve; a denial needs a reason", [input.resource.name, input.intent.role, input.subject.agent.id, input.resource.name])],
	true,
) if input.resource.risk == "critical"

# ---------------------------------------------------------------------------------------------
# The decision. Deny reasons win; then break-glass; then the risk level; otherwise the default.
# ---------------------------------------------------------------------------------------------

default decision := {
	"outcome": "deny",
	"reasons": ["no policy rule allows this request; denied by default"],
	"approvals": [],
	"break_glass": false,
	"deny_reason_required": false,
	"obligations": [],
}

decision := deny_doc(reasons) if {
	reasons := sort(deny_reasons)
	count(reasons) > 0
} else := agent_decision if {
	well_formed
	is_agent
	agent_well_formed
	input.intent.break_glass == false
	agent_decision
} else := object.union(allow_doc(
	[sprintf(
		"break-glass: %v (%v) granted at once to an on-call responder; it will be reviewed",
		[input.resource.name, input.intent.role],
	)],
	true,
), {"obligations": break_glass_obligations}) if {
	well_formed
	not is_agent
	input.intent.break_glass == true
	input.resource.break_glass == true
	in_break_glass_group
} else := oncall_decision if {
	well_formed
	not is_agent
	input.intent.break_glass == false
	oncall_decision
} else := risk_decision if {
	well_formed
	not is_agent
	input.intent.break_glass == false
	risk_decision
}

# ---------------------------------------------------------------------------------------------
# Kill-switch actions (freeze, unfreeze), asked at `data.access.admin_decision` with the input
# "warden.policy.admin/v1" (docs/kill-switch.md). The answer only says whether the admin must
# confirm with a passkey: who may freeze is the admin role's business, and Warden never lets
# this answer slow a freeze (a deny or a fault there leaves it direct).
# ---------------------------------------------------------------------------------------------

admin_decision := {
	"outcome": "allow",
	"reasons": [sprintf("%v: confirm with a passkey", [input.action])],
	"obligations": ["step_up"],
} if {
	input.version == "warden.policy.admin/v1"
	input.action in config.step_up_admin_actions
} else := {
	"outcome": "allow",
	"reasons": [sprintf("%v: no step-up required", [input.action])],
	"obligations": [],
} if {
	input.version == "warden.policy.admin/v1"
	input.action in {"freeze", "unfreeze"}
}
