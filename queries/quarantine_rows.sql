-- The rows one upload quarantined: source line, column, reason (English,
-- plus its code and arguments for translation) and the row as uploaded.
-- param: upload_id int
with

quarantined as (
    select *
    from quarantine
    where upload_id = $upload_id
),

final as (
    select
        row_number,
        column_name,
        reason,
        reason_code,
        reason_args,
        raw_row
    from quarantined
)

select * from final
order by row_number, column_name, reason
