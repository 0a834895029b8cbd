-- Up Migration

-- Whether a referral written after this one uses the same master data, and whether any still does:
-- one index probe each, however many referrals share a practitioner or practice (the index on
-- (resource_type, id) alone read every referral of the practice to answer).
CREATE INDEX referral_master_data_use ON referral_master_data (resource_type, id, authored_on);
DROP INDEX referral_master_data_resource;

-- Down Migration
CREATE INDEX referral_master_data_resource ON referral_master_data (resource_type, id);
DROP INDEX referral_master_data_use;
