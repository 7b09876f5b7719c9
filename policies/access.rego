# Warden's shipped access policy (Rego v1).
#
# Evaluated at `data.access.decision` with the versioned input document described in
# docs/policy.md (`input.version == "warden.policy.input/v1"`). The rule always produces exactly
# one document of this shape:
#
#   {"outcome": "allow" | "deny" | "require_approval",
#    "reasons": ["..."],                       # shown to the requester and kept in the log
#    "approvals": [{"from": "manager" | "owners" | "group" | "users", "count": n, ...}],
#    "break_glass": bool,
#    "deny_reason_required": bool}
#
# Approval steps run in order. Anything this policy does not explicitly allow is denied, and the
# Rust side denies an undefined result or any extra field as well (fail closed).
#
# Summary:
#   * only the actions "request" and "extend" are granted; the rest is not this policy's business
#   * every grant needs a positive duration no longer than the resource's maximum
#   * restricted groups (contractors) never get high or critical access
#   * break-glass: members of a break-glass group (oncall) on a resource that enables it get
#     immediate access, flagged for review; any other break-glass request is denied
#   * extensions: at most `max_extensions` (2) per grant; each one is decided like a new request
#   * low risk -> allow; medium and high -> the manager approves; critical -> the manager, then
#     an owner, and approvers must give a reason when they deny
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
}

default overrides := {}

overrides := data.warden.config if is_object(data.warden.config)

config := object.union(default_config, overrides)

# ---------------------------------------------------------------------------------------------
# Facts about the request.
# ---------------------------------------------------------------------------------------------

# The input document version this policy understands.
input_version := "warden.policy.input/v1"

version_supported if input.version == input_version

# The fields every decision relies on are present and have the right types.
well_formed if {
	is_string(input.intent.action)
	is_string(input.requester.id)
	is_array(input.requester.groups)
	is_string(input.resource.id)
	is_string(input.resource.name)
	is_string(input.resource.risk)
	is_array(input.resource.owners)
	is_boolean(input.resource.break_glass)
}

known_risks := {"low", "medium", "high", "critical"}

risk := input.resource.risk

# Names used in messages always have a value, so that no deny reason is lost to an undefined
# field (a lost deny reason could otherwise let a request through).
default resource_name := "the resource"

resource_name := input.resource.name if is_string(input.resource.name)

default action_name := "(none)"

action_name := input.intent.action if is_string(input.intent.action)

default role := "access"

role := input.intent.role if is_string(input.intent.role)

is_extension if input.context.is_extension == true

is_extension if input.intent.action == "extend"

default extensions_so_far := 0

extensions_so_far := input.context.extensions_so_far if is_number(input.context.extensions_so_far)

action_allowed if input.intent.action in config.allowed_actions

risk_known if risk in known_risks

valid_duration if {
	is_number(input.intent.duration_secs)
	input.intent.duration_secs > 0
}

has_manager if {
	is_string(input.requester.manager)
	input.requester.manager != ""
}

owner_count := count(input.resource.owners) if is_array(input.resource.owners)

default owner_count := 0

break_glass_requested if input.intent.break_glass == true

in_break_glass_group if {
	some g in input.requester.groups
	g in config.break_glass_groups
}

# ---------------------------------------------------------------------------------------------
# Reasons to deny. Any one of them denies the request; all of them are reported.
# ---------------------------------------------------------------------------------------------

deny_reasons contains sprintf("unsupported input document version (expected %v)", [input_version]) if {
	not version_supported
}

deny_reasons contains "the input document is incomplete or malformed" if not well_formed

deny_reasons contains msg if {
	not action_allowed
	msg := sprintf("'%v' is not an access grant; only %v are decided by policy", [action_name, config.allowed_actions])
}

deny_reasons contains msg if {
	not risk_known
	msg := sprintf("%v has an unknown risk level", [resource_name])
}

deny_reasons contains "the request has no duration; every grant must expire" if not valid_duration

deny_reasons contains msg if {
	valid_duration
	is_number(input.resource.max_duration_secs)
	input.intent.duration_secs > input.resource.max_duration_secs
	msg := sprintf(
		"%v seconds is longer than the %v seconds allowed on %v",
		[input.intent.duration_secs, input.resource.max_duration_secs, resource_name],
	)
}

deny_reasons contains "the request names a different resource than the one evaluated" if {
	is_string(input.intent.resource)
	input.intent.resource != input.resource.id
}

deny_reasons contains msg if {
	risk in config.restricted_risks
	some g in input.requester.groups
	g in config.restricted_groups
	msg := sprintf("members of '%v' may not get %v-risk access to %v", [g, risk, resource_name])
}

deny_reasons contains msg if {
	is_extension
	extensions_so_far >= config.max_extensions
	msg := sprintf(
		"this grant has already been extended %v times; the limit is %v",
		[extensions_so_far, config.max_extensions],
	)
}

deny_reasons contains msg if {
	break_glass_requested
	input.resource.break_glass != true
	msg := sprintf("break-glass access is not enabled for %v", [resource_name])
}

deny_reasons contains msg if {
	break_glass_requested
	input.resource.break_glass == true
	not in_break_glass_group
	msg := sprintf("break-glass access to %v is only for members of %v", [resource_name, config.break_glass_groups])
}

# Approval is needed but nobody could give it.
deny_reasons contains msg if {
	not break_glass_requested
	risk in {"medium", "high"}
	not has_manager
	owner_count == 0
	msg := sprintf("nobody can approve: you have no manager in the directory and %v has no owners", [resource_name])
}

deny_reasons contains msg if {
	not break_glass_requested
	risk == "critical"
	has_manager
	owner_count == 0
	msg := sprintf("%v is critical and has no owners to approve access", [resource_name])
}

deny_reasons contains msg if {
	not break_glass_requested
	risk == "critical"
	not has_manager
	owner_count < 2
	msg := sprintf("%v is critical: without a manager in the directory two owners must approve, and it has fewer", [resource_name])
}

# ---------------------------------------------------------------------------------------------
# Approval steps.
# ---------------------------------------------------------------------------------------------

manager_step := {"from": "manager", "count": 1}

owners_step := {"from": "owners", "count": 1}

# Someone without a manager in the directory is approved by the resource's owners instead.
first_step := manager_step if has_manager

first_step := owners_step if not has_manager

first_approver := "your manager" if has_manager

first_approver := sprintf("an owner of %v", [resource_name]) if not has_manager

critical_steps := [manager_step, owners_step] if has_manager

critical_steps := [{"from": "owners", "count": 2}] if not has_manager

critical_approvers := sprintf("your manager, then an owner of %v", [resource_name]) if has_manager

critical_approvers := sprintf("two owners of %v", [resource_name]) if not has_manager

# Extensions say so in the reasons.
default extension_notes := []

extension_notes := [sprintf("extension %v of at most %v", [extensions_so_far + 1, config.max_extensions])] if is_extension

# ---------------------------------------------------------------------------------------------
# Documents.
# ---------------------------------------------------------------------------------------------

deny_doc(reasons) := {
	"outcome": "deny",
	"reasons": reasons,
	"approvals": [],
	"break_glass": false,
	"deny_reason_required": false,
}

allow_doc(reasons, break_glass) := {
	"outcome": "allow",
	"reasons": reasons,
	"approvals": [],
	"break_glass": break_glass,
	"deny_reason_required": false,
}

approval_doc(steps, reasons, deny_reason_required) := {
	"outcome": "require_approval",
	"reasons": reasons,
	"approvals": steps,
	"break_glass": false,
	"deny_reason_required": deny_reason_required,
}

# The decision by risk level, once nothing denies the request.
risk_decision := allow_doc(
	array.concat([sprintf("%v (%v) is low-risk: allowed without approval", [resource_name, role])], extension_notes),
	false,
) if risk == "low"

risk_decision := approval_doc(
	[first_step],
	array.concat([sprintf("%v (%v) is medium-risk: %v must approve", [resource_name, role, first_approver])], extension_notes),
	false,
) if risk == "medium"

risk_decision := approval_doc(
	[first_step],
	array.concat(
		[sprintf(
			"%v (%v) is high-risk: %v must approve before access is granted",
			[resource_name, role, first_approver],
		)],
		extension_notes,
	),
	false,
) if risk == "high"

risk_decision := approval_doc(
	critical_steps,
	array.concat(
		[sprintf(
			"%v (%v) is critical: %v must approve, in that order; a denial needs a reason",
			[resource_name, role, critical_approvers],
		)],
		extension_notes,
	),
	true,
) if risk == "critical"

# ---------------------------------------------------------------------------------------------
# The decision. Deny reasons win; then break-glass; then the risk level; otherwise the default.
# ---------------------------------------------------------------------------------------------

default decision := {
	"outcome": "deny",
	"reasons": ["no policy rule allows this request; denied by default"],
	"approvals": [],
	"break_glass": false,
	"deny_reason_required": false,
}

decision := deny_doc(sort(deny_reasons)) if {
	count(deny_reasons) > 0
} else := allow_doc(
	[sprintf(
		"break-glass: %v (%v) granted immediately to an on-call responder; it will be reviewed",
		[resource_name, role],
	)],
	true,
) if {
	break_glass_requested
	in_break_glass_group
	input.resource.break_glass == true
} else := risk_decision if {
	not break_glass_requested
	risk_decision
}
