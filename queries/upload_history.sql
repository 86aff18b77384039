-- Every upload attempt, newest first: who, when, which file (with its
-- sha256), counts and status.
-- param: dataset text = null
with

uploads_in_scope as (
    select *
    from uploads
    where $dataset::varchar is null or dataset = $dataset::varchar
),

final as (
    select
        upload_id,
        uploaded_at,
        uploaded_by,
        dataset,
        file_name,
        file_format,
        file_sha256,
        rows_total,
        rows_accepted,
        rows_rejected,
        status,
        is_strict,
        replaces_upload_id,
        message
    from uploads_in_scope
)

select * from final
order by upload_id desc
