-- The request aggregate: approvals and the grant record live on the request row, so one
-- compare-and-set UPDATE changes a request. Kept identical in shape to ../postgres/0003_aggregate.sql.

ALTER TABLE requests ADD COLUMN approvals_json TEXT NOT NULL DEFAULT '[]';
ALTER TABLE requests ADD COLUMN grant_json TEXT;

UPDATE requests SET approvals_json = (
    SELECT json_group_array(json_object(
        'step', a.step, 'approver_id', a.approver_id, 'approver_account', a.approver_account,
        'verdict', a.decision, 'reason', a.reason, 'at', a.at))
    FROM (SELECT * FROM approvals WHERE request_id = requests.id ORDER BY at, approver_id) a)
WHERE EXISTS (SELECT 1 FROM approvals WHERE request_id = requests.id);

UPDATE requests SET grant_json = (
    SELECT json_object(
        'backend', g.backend, 'resource', g.resource, 'role', g.role,
        'account', json_object('platform', requests.platform, 'workspace', requests.workspace,
                               'user_id', requests.requester_account),
        'params', json_object(), 'granted_at', g.granted_at, 'receipt', NULL,
        'revoked_at', g.revoked_at, 'revoke_reason', g.revoke_reason)
    FROM grants g WHERE g.request_id = requests.id)
WHERE EXISTS (SELECT 1 FROM grants WHERE request_id = requests.id);

DROP TABLE approvals;
DROP TABLE grants;

-- Active access by expiry: start-up recovery and the admin's grants page.
CREATE INDEX requests_active_by_expiry ON requests (state, expires_at);
