-- PostgREST, by contract: the SQL PostgREST (v10 to v12) runs for RPC calls
-- and reads, for an anonymous role, two tenant producers restricted to
-- email.% and a worker restricted to consuming email.%.  PostgREST logs in
-- as an authenticator role, and in each request's transaction switches to
-- the request's role with set_config('role', ..., true), sets
-- request.jwt.claims, and calls functions with named arguments taken from
-- the JSON body (json_to_record).
\set VERBOSITY terse
TRUNCATE jobs.job_queue, jobs.job, jobs.topic_grant;
SELECT setval('jobs.job_id_seq', 1, false);
CREATE ROLE pgjobs_test_authenticator NOINHERIT;
CREATE ROLE pgjobs_test_anon NOLOGIN;
CREATE ROLE pgjobs_test_alice NOLOGIN;
CREATE ROLE pgjobs_test_bob NOLOGIN;
CREATE ROLE pgjobs_test_worker NOLOGIN;
GRANT pgjobs_test_anon, pgjobs_test_alice, pgjobs_test_bob, pgjobs_test_worker
   TO pgjobs_test_authenticator;
-- tenants publish and see only their own jobs; the worker consumes
GRANT pgjobs_producer, pgjobs_tenant TO pgjobs_test_alice, pgjobs_test_bob;
GRANT pgjobs_consumer TO pgjobs_test_worker;
SELECT jobs.grant_topic('pgjobs_test_alice', 'email.%', i_consume => false);
SELECT jobs.grant_topic('pgjobs_test_bob', 'email.%', i_consume => false);
SELECT jobs.grant_topic('pgjobs_test_worker', 'email.%', i_publish => false);
-- a job nobody above may touch
SELECT jobs.publish('billing.charge', '{"card": "4242"}') AS billing_job \gset

SET SESSION AUTHORIZATION pgjobs_test_authenticator;

-- Each request below is one transaction as PostgREST runs it: rpc_begin
-- starts it and sets what PostgREST sets for every request; the request's
-- role comes next (set_config('role', ...) is SET LOCAL ROLE).
\set rpc_begin 'BEGIN; SELECT set_config(''search_path'', ''"jobs", "public"'', true), set_config(''request.method'', ''POST'', true) \\g /dev/null'

-- POST /rpc/publish as alice: {"i_task": "email.send", "i_body": {...}}
:rpc_begin
SELECT set_config('role', 'pgjobs_test_alice', true),
       set_config('request.jwt.claims', '{"role": "pgjobs_test_alice", "sub": "alice"}', true) \g /dev/null
WITH pgrst_source AS (
  SELECT pgrst_call.pgrst_scalar
    FROM (SELECT '{"i_task": "email.send", "i_body": {"to": "alice@example.com"}}'::json AS json_data) pgrst_payload,
    LATERAL (SELECT "i_task", "i_body" FROM json_to_record(pgrst_payload.json_data)
               AS _("i_task" character varying, "i_body" jsonb) LIMIT 1) pgrst_args,
    LATERAL (SELECT "jobs"."publish"("i_task" := pgrst_args."i_task",
                                     "i_body" := pgrst_args."i_body") pgrst_scalar) pgrst_call
)
SELECT pg_catalog.count(_postgrest_t) AS page_total,
       coalesce(json_agg(_postgrest_t.pgrst_scalar)->0, 'null')::text ~ '^[0-9]+$' AS body_is_job_id
  FROM (SELECT "pgrst_source".* FROM "pgrst_source") _postgrest_t;
COMMIT;

-- POST /rpc/publish as bob, twice, the second with a unique key
:rpc_begin
SELECT set_config('role', 'pgjobs_test_bob', true),
       set_config('request.jwt.claims', '{"role": "pgjobs_test_bob", "sub": "bob"}', true) \g /dev/null
WITH pgrst_source AS (
  SELECT pgrst_call.pgrst_scalar
    FROM (SELECT '{"i_task": "email.send", "i_body": {"to": "bob@example.com"}, "i_unique_key": "welcome-bob"}'::json AS json_data) pgrst_payload,
    LATERAL (SELECT "i_task", "i_body", "i_unique_key" FROM json_to_record(pgrst_payload.json_data)
               AS _("i_task" character varying, "i_body" jsonb, "i_unique_key" text) LIMIT 1) pgrst_args,
    LATERAL (SELECT "jobs"."publish"("i_task" := pgrst_args."i_task", "i_body" := pgrst_args."i_body",
                                     "i_unique_key" := pgrst_args."i_unique_key") pgrst_scalar) pgrst_call
)
SELECT pg_catalog.count(_postgrest_t) AS page_total
  FROM (SELECT "pgrst_source".* FROM "pgrst_source") _postgrest_t;
COMMIT;

-- tenants' unique keys are their own: alice using bob's key neither finds
-- nor replaces his job
:rpc_begin
SELECT set_config('role', 'pgjobs_test_alice', true) \g /dev/null
SELECT "jobs"."publish"("i_task" := 'email.send', "i_body" := '{"to": "mallory"}',
                        "i_unique_key" := 'welcome-bob', "i_on_duplicate" := 'replace') AS alices_job \gset
SELECT count(*) AS alice_sees FROM jobs.all WHERE unique_key LIKE '%welcome-bob';
ROLLBACK;

-- a task outside alice's grants: 42501, nothing queued
:rpc_begin
SELECT set_config('role', 'pgjobs_test_alice', true) \g /dev/null
SELECT "jobs"."publish"("i_task" := 'billing.refund', "i_body" := '{}');
ROLLBACK;
:rpc_begin
SELECT set_config('role', 'pgjobs_test_alice', true) \g /dev/null
SELECT count(*) FROM "jobs"."publish_bulk"("i_jobs" := ARRAY[
    ROW('email.send', NULL, NULL, NULL, NULL, NULL),
    ROW('sms.send', NULL, NULL, NULL, NULL, NULL)]::jobs.bulk_job[]);
ROLLBACK;
-- and she cannot write the tables, consume, cancel or read the statistics
:rpc_begin
SELECT set_config('role', 'pgjobs_test_alice', true) \g /dev/null
INSERT INTO jobs.job_queue (task) VALUES ('email.send');
ROLLBACK;
:rpc_begin
SELECT set_config('role', 'pgjobs_test_alice', true) \g /dev/null
UPDATE jobs.job_queue SET priority = 100;
ROLLBACK;
:rpc_begin
SELECT set_config('role', 'pgjobs_test_alice', true) \g /dev/null
SELECT * FROM "jobs"."consume"("num" := 1);
ROLLBACK;
:rpc_begin
SELECT set_config('role', 'pgjobs_test_alice', true) \g /dev/null
SELECT "jobs"."cancel"("i_job_id" := :billing_job);
ROLLBACK;
:rpc_begin
SELECT set_config('role', 'pgjobs_test_alice', true) \g /dev/null
SELECT * FROM "jobs"."stats";
ROLLBACK;

-- GET /all as each tenant: her own jobs only, with their payloads
:rpc_begin
SELECT set_config('role', 'pgjobs_test_alice', true) \g /dev/null
WITH pgrst_source AS (SELECT "jobs"."all"."task", "jobs"."all"."body", "jobs"."all"."published_by"
                        FROM "jobs"."all")
SELECT coalesce(json_agg(_postgrest_t), '[]')::text AS body
  FROM (SELECT * FROM pgrst_source) _postgrest_t;
COMMIT;
:rpc_begin
SELECT set_config('role', 'pgjobs_test_bob', true) \g /dev/null
SELECT task, body, unique_key, published_by FROM "jobs"."all";
SELECT count(*) AS running_seen FROM "jobs"."running";
COMMIT;

-- the anonymous role may do nothing at all
:rpc_begin
SELECT set_config('role', 'pgjobs_test_anon', true) \g /dev/null
SELECT "jobs"."publish"("i_task" := 'email.send');
ROLLBACK;
:rpc_begin
SELECT set_config('role', 'pgjobs_test_anon', true) \g /dev/null
SELECT count(*) FROM "jobs"."all";
ROLLBACK;
:rpc_begin
SELECT set_config('role', 'pgjobs_test_anon', true) \g /dev/null
SELECT * FROM "jobs"."consume"("num" := 1);
ROLLBACK;

-- POST /rpc/consume as the worker: only email jobs come back
:rpc_begin
SELECT set_config('role', 'pgjobs_test_worker', true) \g /dev/null
WITH pgrst_source AS (
  SELECT "pgrst_call".*
    FROM (SELECT '{"num": 10}'::json AS json_data) pgrst_payload,
    LATERAL (SELECT "num" FROM json_to_record(pgrst_payload.json_data) AS _("num" integer) LIMIT 1) pgrst_args,
    LATERAL "jobs"."consume"("num" := pgrst_args."num") pgrst_call
)
SELECT pg_catalog.count(_postgrest_t) AS page_total,
       string_agg(_postgrest_t.task || ' ' || (_postgrest_t.body->>'to'), ', ' ORDER BY _postgrest_t.job_id) AS jobs
  FROM (SELECT "pgrst_source".* FROM "pgrst_source") _postgrest_t;
COMMIT;
-- another topic: 42501
:rpc_begin
SELECT set_config('role', 'pgjobs_test_worker', true) \g /dev/null
SELECT * FROM "jobs"."consume_topic"("pattern" := 'billing.%', "num" := 1);
ROLLBACK;
-- another topic's job id: as if it did not exist (PJ001), nothing changes
:rpc_begin
SELECT set_config('role', 'pgjobs_test_worker', true) \g /dev/null
SELECT "jobs"."ack"("i_job_id" := :billing_job);
ROLLBACK;
:rpc_begin
SELECT set_config('role', 'pgjobs_test_worker', true) \g /dev/null
SELECT * FROM "jobs"."ack_batch"("i_job_ids" := ARRAY[:billing_job]::bigint[]);
ROLLBACK;
-- POST /rpc/ack_batch of what it claimed
:rpc_begin
SELECT set_config('role', 'pgjobs_test_worker', true) \g /dev/null
SELECT count(*) AS acked FROM "jobs"."ack_batch"("i_job_ids" := ARRAY(
    SELECT job_id FROM jobs.running WHERE task = 'email.send'));
COMMIT;
-- the worker may not publish
:rpc_begin
SELECT set_config('role', 'pgjobs_test_worker', true) \g /dev/null
SELECT "jobs"."publish"("i_task" := 'email.send');
ROLLBACK;

RESET SESSION AUTHORIZATION;
-- the result: billing untouched, the two email jobs done, each remembering its publisher
SELECT task, status, coalesce(nullif(published_by, current_user), 'the superuser') AS published_by
  FROM jobs.all ORDER BY job_id;
SELECT jobs.revoke_topic('pgjobs_test_alice');
SELECT jobs.revoke_topic('pgjobs_test_bob', 'email.%');
SELECT jobs.revoke_topic('pgjobs_test_worker');
SELECT jobs.grant_topic('pgjobs_test_nobody', 'x.%');
SELECT jobs.grant_topic('pgjobs_test_worker', 'x.%', false, false);
DROP OWNED BY pgjobs_test_alice, pgjobs_test_bob, pgjobs_test_worker, pgjobs_test_anon,
              pgjobs_test_authenticator;
DROP ROLE pgjobs_test_authenticator, pgjobs_test_anon, pgjobs_test_alice, pgjobs_test_bob,
          pgjobs_test_worker;
TRUNCATE jobs.job_queue, jobs.job, jobs.topic_grant;
