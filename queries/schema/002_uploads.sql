-- Uploads: a machine-readable reason on each quarantined row, so the page
-- can show it in the reader's language (the stored `reason` stays English),
-- and the file's detected layout.
alter table quarantine add column if not exists reason_code varchar;
alter table quarantine add column if not exists reason_args varchar;
alter table uploads add column if not exists file_layout varchar;
