-- Up Migration

-- Which referral uses which master data (Patient, Practitioner, PractitionerRole, Organization), and
-- when that referral was written: a referral older than another using the same master data does not
-- overwrite its newer details.
-- Master data is written once and shared by every referral that names the same person or practice;
-- retention erases it only when the last referral using it goes. Referrals from before this table
-- have master data of their own (nothing shares it), so it is erased with them as before.
CREATE TABLE referral_master_data (
  service_request text NOT NULL,
  resource_type text NOT NULL,
  id text NOT NULL,
  authored_on timestamptz NOT NULL,
  PRIMARY KEY (service_request, resource_type, id)
);
CREATE INDEX referral_master_data_resource ON referral_master_data (resource_type, id);

-- Down Migration
DROP TABLE referral_master_data;
