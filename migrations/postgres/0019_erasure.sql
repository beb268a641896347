-- Customer data rights (src/workspace/privacy.rs): when a customer's personal data was
-- erased. The row stays (tickets keep their requester for statistics) with its name, email,
-- phone, company and notes replaced.
ALTER TABLE customers ADD COLUMN erased_at BIGINT;
