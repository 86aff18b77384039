-- A version per table, bumped by portal.db inside every transaction that writes the table (an
-- UPDATE that keeps the row count included), so derived tables and cached results see every write.
create table if not exists data_versions (
    table_name varchar primary key,
    version bigint not null
);
