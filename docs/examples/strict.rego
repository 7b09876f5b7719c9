package access

# Stricter: every request needs the requester's manager; critical roles are refused.
default decision := {"outcome": "require_approval", "reasons": ["every request needs a manager"], "approvals": [{"from": "manager"}], "break_glass": false, "deny_reason_required": false}

decision := {"outcome": "deny", "reasons": ["critical roles are refused"], "approvals": [], "break_glass": false, "deny_reason_required": false} if {
	input.resource.risk == "critical"
}
