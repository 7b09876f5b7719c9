-- A commit folded into one statement (store/plan.rs `fold`) ends with this when a guard fails:
-- the error rolls the whole statement back, and its SQLSTATE says which guard.
-- WD001: the request changed first (a conflict); WD002: the delivery was recorded before.
CREATE OR REPLACE FUNCTION warden_abort(what text) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
  IF what = 'conflict' THEN
    RAISE EXCEPTION 'warden: the request changed first' USING ERRCODE = 'WD001';
  END IF;
  RAISE EXCEPTION 'warden: this delivery was recorded before' USING ERRCODE = 'WD002';
END
$$;
