//! The behaviour of the store, written once and run on every database: each case below is a
//! test in `sqlite::` (a file in a temporary directory) and in `postgres::` (a fresh schema of
//! the database at `MCP_OAUTH_POSTGRES_URL`). Time is a fake clock: plain numbers.
//!
//! ```sh
//! source scripts/services/postgres.sh && postgres_install && postgres_start
//! MCP_OAUTH_REQUIRE_SERVICES=1 cargo nextest run -p mcp-oauth-authorization-server --test store
//! postgres_stop
//! ```
//!
//! Without `MCP_OAUTH_POSTGRES_URL` the `postgres::` tests pass after printing a skip notice,
//! unless `MCP_OAUTH_REQUIRE_SERVICES=1`, which makes them fail. A build without the `postgres`
//! feature has no `postgres::` tests; one without `federation` has no federated sign-in cases.

#[path = "store/backend.rs"]
mod backend;
#[path = "store/cases/mod.rs"]
mod cases;
#[path = "store/fixtures.rs"]
mod fixtures;
#[path = "store/sqlite_files.rs"]
mod sqlite_files;
#[path = "store/sqlite_inline.rs"]
mod sqlite_inline;
#[path = "store/sqlite_only.rs"]
mod sqlite_only;

/// Runs each case on SQLite and on PostgreSQL, as `sqlite::<case>` and `postgres::<case>`; a
/// case's attributes (its feature) go on both tests.
macro_rules! on_every_database {
    ($($(#[$cfg:meta])* $case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                $(#[$cfg])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let db = crate::backend::TestDb::sqlite();
                    crate::cases::$case(&db).await;
                }
            )+
        }

        #[cfg(feature = "postgres")]
        mod postgres {
            $(
                $(#[$cfg])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let Some(db) = crate::backend::TestDb::postgres(stringify!($case)).await else {
                        return;
                    };
                    crate::cases::$case(&db).await;
                }
            )+
        }
    };
}

on_every_database!(
    // clients
    registering_a_client_twice_conflicts,
    updating_a_client_replaces_metadata_and_secret_only,
    a_resource_servers_introspection_permission_is_kept,
    clients_are_listed_oldest_first,
    deleting_a_client_removes_its_grants_and_tokens,
    a_clients_status_and_path_are_kept_and_listed,
    suspending_a_client_revokes_its_grants_and_keeps_the_approval,
    pending_clients_past_their_time_are_deleted_with_their_grants,
    // users and consents
    a_taken_email_conflicts,
    users_are_found_by_email_and_by_id,
    giving_consent_again_replaces_it,
    consent_is_kept_per_resource,
    // grants and codes
    redeeming_a_code_twice_reports_replay,
    expired_and_unknown_codes_are_not_redeemed,
    a_code_whose_request_named_no_redirect_uri_comes_back_without_one,
    a_grant_is_not_stored_without_its_code,
    a_code_that_contradicts_its_grant_is_refused,
    concurrent_redemptions_of_one_code_redeem_it_once,
    revoking_a_grant_deactivates_its_tokens,
    // refresh tokens
    rotating_a_refresh_token_replaces_it,
    reused_refresh_token_revokes_the_whole_family,
    checking_a_token_for_reuse_revokes_only_a_reused_family,
    expired_revoked_and_unknown_refresh_tokens_do_not_rotate,
    rotating_into_another_grant_is_refused_and_changes_nothing,
    concurrent_rotations_of_one_refresh_token_rotate_once,
    // access tokens
    access_tokens_are_active_until_revoked_or_expired,
    tokens_of_unknown_grants_are_refused,
    // signing keys
    rotating_keys_keeps_the_previous_one_published,
    a_key_rotation_with_a_taken_kid_changes_nothing,
    concurrent_key_rotations_leave_one_current_and_one_previous,
    encrypted_keys_are_stored_encrypted_and_need_their_key,
    a_key_encryption_key_encrypts_the_keys_stored_in_clear,
    // federated sign-in
    #[cfg(feature = "federation")]
    an_upstream_identity_is_linked_to_a_new_user,
    #[cfg(feature = "federation")]
    linking_fails_whole_on_a_taken_identity_or_email,
    #[cfg(feature = "federation")]
    an_upstream_login_is_taken_once_before_it_expires,
    #[cfg(feature = "federation")]
    concurrent_takes_of_an_upstream_login_take_it_once,
    // sessions and housekeeping
    sessions_end_at_expiry_or_sign_out,
    device_cookies_are_found_until_they_expire_or_are_deleted,
    purging_deletes_only_what_expired,
    // the sign-in throttle and the rate limits
    throttle_blocks_an_account_from_one_address_but_not_from_others,
    throttle_blocks_an_account_guessed_from_many_addresses_for_untrusted_browsers_only,
    throttle_blocks_an_address_after_its_limit_whatever_the_account_but_not_a_device,
    throttle_locks_a_device_cookie_on_its_own,
    throttle_success_clears_the_account_from_its_address_but_not_the_address,
    throttle_success_clears_the_device_cookie,
    throttle_counts_sign_up_probes_against_the_address,
    a_refused_attempt_counts_nothing,
    a_hit_is_given_back_only_in_its_window,
    instances_counting_at_once_never_count_past_a_limit,
    limit_counters_are_purged_when_expired_and_kept_to_a_bound_per_kind,
    // two-step verification
    a_totp_credential_is_confirmed_once_with_the_secret_shown,
    racing_instances_accept_a_time_step_once,
    a_pending_sign_in_is_found_until_it_expires_or_is_finished,
    // the audit trail
    audit_records_are_read_back_as_appended_under_every_filter,
    audit_records_outlive_their_user_and_client,
    audit_records_older_than_the_retention_are_purged,
    garbled_audit_records_are_errors_not_panics,
    // the database itself
    data_survives_reopening,
    concurrent_writers_all_succeed,
    unreadable_rows_are_errors_not_panics,
    migrations_replayed_on_an_empty_database_change_nothing,
    migrations_keep_the_data_of_every_earlier_version,
);
