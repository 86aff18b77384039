-- Flexible repayment plans (CONTRACT.md, repayment_plans; DOMAIN.md, Flexible repayment plans).
--
-- repayment_plans holds agreed plans only: rows uploaded from the lender's system and plans a customer
-- accepted in the portal. Its status set (active, completed, broken, cancelled) is the contract's,
-- and agreed_on is never null, so every reader (the upload rules, the derived schedule, the outcomes)
-- sees one kind of row. offer_id names the portal offer a plan came from (null for uploaded rows);
-- an upload of the same plan_id keeps it.
--
-- An offer that the customer has not answered yet is not a plan: it lives in plan_offers with its own
-- states (offered -> accepted | declined | withdrawn). Accepting one writes the repayment_plans row
-- (agreed_on = the day of acceptance) in the same transaction.
create table if not exists repayment_plans (
    plan_id varchar not null,
    loan_id varchar not null,
    complaint_id varchar,
    plan_type varchar not null,
    agreed_on date not null,
    amount decimal(18, 2) not null,
    instalments integer not null,
    first_due_on date not null,
    status varchar not null,
    upload_id bigint,
    offer_id bigint
);

create sequence if not exists plan_offer_id_seq start 1;

create table if not exists plan_offers (
    offer_id bigint not null,
    complaint_id varchar not null,
    loan_id varchar not null,
    plan_type varchar not null,
    amount decimal(18, 2) not null,
    instalments integer not null,
    first_due_on date not null,
    status varchar not null,
    offered_by varchar not null,
    offered_at timestamptz not null,
    note varchar,
    answered_by varchar,
    answered_at timestamptz,
    plan_id varchar
);
