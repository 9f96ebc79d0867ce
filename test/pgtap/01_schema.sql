-- pgTAP API contract, part 1: the shape of the jobs schema.
--
-- Schema, tables (columns in order, types, NOT NULL, defaults, keys,
-- indexes, checks, triggers), the id sequence, the jobs.job_status enum, the
-- jobs.bulk_job type, the views (columns and, for the four that a tenant
-- reads, their whole definition: a tenant sees only the jobs it published),
-- and the pg_extension_config_dump registration that makes pg_dump keep the
-- jobs, the topic controls, the topic grants and the recurring jobs.
-- Run by scripts/test.sh with pg_prove against a database where pgtap and
-- pgjobs are installed; everything is rolled back.

BEGIN;
SELECT plan(105);

-- ---------------------------------------------------------------------------
-- Schema and the objects in it
-- ---------------------------------------------------------------------------

SELECT has_schema('jobs', 'schema jobs exists');
SELECT tables_are('jobs', ARRAY['job_queue', 'job', 'topic_control', 'recurring', 'topic_grant'],
    'jobs has exactly the tables job_queue, job, topic_control, recurring and topic_grant');
SELECT views_are('jobs', ARRAY['all', 'running', 'expired', 'stats', 'health', 'dead_letter'],
    'jobs has exactly the views all, running, expired, stats, health and dead_letter');
SELECT sequences_are('jobs', ARRAY['job_id_seq'],
    'jobs has exactly the sequence job_id_seq');
SELECT types_are('jobs', ARRAY['bulk_job', 'job_status'],
    'jobs has exactly the free-standing types bulk_job and job_status');
SELECT enum_has_labels('jobs', 'job_status',
    ARRAY['pending', 'running', 'succeeded', 'failed', 'cancelled'],
    'jobs.job_status has the labels pending, running, succeeded, failed, cancelled, in that order');

-- ---------------------------------------------------------------------------
-- jobs.job_queue
-- ---------------------------------------------------------------------------

SELECT has_table('jobs', 'job_queue', 'table jobs.job_queue exists');
SELECT columns_are('jobs', 'job_queue', ARRAY[
    'job_id', 'task', 'body', 'status', 'priority', 'attempts', 'max_retries',
    'timeout', 'last_error', 'created_at', 'scheduled_at', 'started_at',
    'expires_at', 'unique_key', 'unique_while_running', 'cancel_requested_at',
    'progress', 'progress_note', 'published_by'], 'jobs.job_queue has exactly the expected columns');

-- Every column in order: name, type with typmod, NOT NULL, default.
SELECT results_eq(
    $$SELECT a.attname::text COLLATE "default", pg_catalog.format_type(a.atttypid, a.atttypmod),
             a.attnotnull, pg_catalog.pg_get_expr(d.adbin, d.adrelid) COLLATE "default"
        FROM pg_catalog.pg_attribute a
        LEFT JOIN pg_catalog.pg_attrdef d
               ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE a.attrelid = 'jobs.job_queue'::regclass
         AND a.attnum > 0 AND NOT a.attisdropped
       ORDER BY a.attnum$$,
    $$VALUES ('job_id',       'bigint',                   true,  'nextval(''jobs.job_id_seq''::regclass)'),
             ('task',         'character varying',        true,  NULL),
             ('body',         'jsonb',                    false, NULL),
             ('status',       'jobs.job_status',          true,  '''pending''::jobs.job_status'),
             ('priority',     'integer',                  true,  '0'),
             ('attempts',     'integer',                  true,  '0'),
             ('max_retries',  'integer',                  true,  '3'),
             ('timeout',      'numeric(7,2)',             true,  '60'),
             ('last_error',   'text',                     false, NULL),
             ('created_at',   'timestamp with time zone', true,  'now()'),
             ('scheduled_at', 'timestamp with time zone', true,  'now()'),
             ('started_at',   'timestamp with time zone', false, NULL),
             ('expires_at',   'timestamp with time zone', false, NULL),
             ('unique_key',   'text',                     false, NULL),
             ('unique_while_running', 'boolean',          false, NULL),
             ('cancel_requested_at', 'timestamp with time zone', false, NULL),
             ('progress',     'double precision',         false, NULL),
             ('progress_note', 'text',                    false, NULL),
             ('published_by', 'text',                     false, NULL)$$,
    'jobs.job_queue columns: order, types, NOT NULL and defaults (1.1 columns appended)');

-- The same contract column by column, for readable failures.
SELECT col_type_is('jobs', 'job_queue', 'job_id', 'bigint', 'job_queue.job_id is bigint');
SELECT col_type_is('jobs', 'job_queue', 'task', 'character varying', 'job_queue.task is varchar');
SELECT col_type_is('jobs', 'job_queue', 'body', 'jsonb', 'job_queue.body is jsonb');
SELECT col_type_is('jobs', 'job_queue', 'timeout', 'numeric(7,2)', 'job_queue.timeout is numeric(7,2)');
SELECT col_type_is('jobs', 'job_queue', 'scheduled_at', 'timestamp with time zone',
    'job_queue.scheduled_at is timestamptz');
SELECT col_not_null('jobs', 'job_queue', 'task', 'job_queue.task is NOT NULL');
SELECT col_is_null('jobs', 'job_queue', 'body', 'job_queue.body is nullable');
SELECT col_default_is('jobs', 'job_queue', 'job_id',
    'nextval(''jobs.job_id_seq''::regclass)'::text, 'job_queue.job_id defaults to the sequence');
SELECT col_default_is('jobs', 'job_queue', 'status', 'pending'::text,
    'job_queue.status defaults to pending');
SELECT col_default_is('jobs', 'job_queue', 'priority', 0, 'job_queue.priority defaults to 0');
SELECT col_default_is('jobs', 'job_queue', 'attempts', 0, 'job_queue.attempts defaults to 0');
SELECT col_default_is('jobs', 'job_queue', 'max_retries', 3, 'job_queue.max_retries defaults to 3');
SELECT col_default_is('jobs', 'job_queue', 'timeout', 60::numeric, 'job_queue.timeout defaults to 60');
SELECT col_default_is('jobs', 'job_queue', 'scheduled_at', 'now()'::text,
    'job_queue.scheduled_at defaults to now()');
SELECT col_hasnt_default('jobs', 'job_queue', 'task', 'job_queue.task has no default');
SELECT col_is_null('jobs', 'job_queue', 'unique_key', 'job_queue.unique_key is nullable (no key: not unique)');
SELECT col_hasnt_default('jobs', 'job_queue', 'unique_while_running',
    'job_queue.unique_while_running has no default');
SELECT col_type_is('jobs', 'job_queue', 'progress', 'double precision', 'job_queue.progress is double precision');
SELECT col_is_null('jobs', 'job_queue', 'published_by',
    'job_queue.published_by is nullable (jobs queued by 1.0 have no publisher)');
SELECT col_hasnt_default('jobs', 'job_queue', 'published_by',
    'job_queue.published_by has no default (publish records the caller)');

SELECT has_pk('jobs', 'job_queue', 'jobs.job_queue has a primary key');
SELECT col_is_pk('jobs', 'job_queue', ARRAY['job_id'], 'jobs.job_queue primary key is (job_id)');
SELECT indexes_are('jobs', 'job_queue',
    ARRAY['job_queue_pkey', 'job_queue_pending_idx', 'job_queue_running_idx',
          'job_queue_unique_key_idx'],
    'jobs.job_queue has exactly the primary key, claim, expiry and unique-key indexes');
SELECT results_eq(
    $$SELECT pg_catalog.pg_get_indexdef(indexrelid)
        FROM pg_catalog.pg_index
       WHERE indrelid = 'jobs.job_queue'::regclass
       ORDER BY indexrelid::regclass::text$$,
    ARRAY[
        'CREATE INDEX job_queue_pending_idx ON jobs.job_queue USING btree (priority DESC, scheduled_at, job_id) WHERE (status = ''pending''::jobs.job_status)',
        'CREATE UNIQUE INDEX job_queue_pkey ON jobs.job_queue USING btree (job_id)',
        'CREATE INDEX job_queue_running_idx ON jobs.job_queue USING btree (expires_at) WHERE (status = ''running''::jobs.job_status)',
        'CREATE UNIQUE INDEX job_queue_unique_key_idx ON jobs.job_queue USING btree (task, unique_key) WHERE ((unique_key IS NOT NULL) AND ((status = ''pending''::jobs.job_status) OR unique_while_running))'],
    'jobs.job_queue index definitions (keys, order, uniqueness, partial predicates)');
SELECT index_is_unique('jobs', 'job_queue', 'job_queue_unique_key_idx',
    'job_queue_unique_key_idx is unique: one holder of a key per task');
SELECT is_indexed('jobs', 'job_queue', ARRAY['task', 'unique_key'],
    'jobs.job_queue is indexed on (task, unique_key)');
SELECT results_eq(
    $$SELECT conname::text COLLATE "default", contype::text
        FROM pg_catalog.pg_constraint
       WHERE conrelid = 'jobs.job_queue'::regclass
       ORDER BY conname$$,
    $$VALUES ('job_queue_pkey', 'p')$$,
    'jobs.job_queue constraints: the primary key only (the C functions check arguments)');
SELECT is_empty(
    $$SELECT tgname FROM pg_catalog.pg_trigger
       WHERE tgrelid IN ('jobs.job_queue'::regclass, 'jobs.job'::regclass)$$,
    'jobs.job_queue and jobs.job have no triggers (the hot paths fire none)');

-- ---------------------------------------------------------------------------
-- jobs.job
-- ---------------------------------------------------------------------------

SELECT has_table('jobs', 'job', 'table jobs.job exists');
SELECT columns_are('jobs', 'job', ARRAY[
    'job_id', 'task', 'body', 'status', 'priority', 'attempts', 'max_retries',
    'timeout', 'last_error', 'result', 'created_at', 'scheduled_at',
    'started_at', 'finished_at', 'unique_key', 'progress', 'progress_note', 'published_by'],
    'jobs.job has exactly the expected columns');
SELECT results_eq(
    $$SELECT a.attname::text COLLATE "default", pg_catalog.format_type(a.atttypid, a.atttypmod),
             a.attnotnull, pg_catalog.pg_get_expr(d.adbin, d.adrelid) COLLATE "default"
        FROM pg_catalog.pg_attribute a
        LEFT JOIN pg_catalog.pg_attrdef d
               ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE a.attrelid = 'jobs.job'::regclass
         AND a.attnum > 0 AND NOT a.attisdropped
       ORDER BY a.attnum$$,
    $$VALUES ('job_id',       'bigint',                   true,  NULL::text),
             ('task',         'character varying',        true,  NULL),
             ('body',         'jsonb',                    false, NULL),
             ('status',       'jobs.job_status',          true,  NULL),
             ('priority',     'integer',                  true,  NULL),
             ('attempts',     'integer',                  true,  NULL),
             ('max_retries',  'integer',                  true,  NULL),
             ('timeout',      'numeric(7,2)',             true,  NULL),
             ('last_error',   'text',                     false, NULL),
             ('result',       'jsonb',                    false, NULL),
             ('created_at',   'timestamp with time zone', true,  NULL),
             ('scheduled_at', 'timestamp with time zone', true,  NULL),
             ('started_at',   'timestamp with time zone', false, NULL),
             ('finished_at',  'timestamp with time zone', true,  'now()'),
             ('unique_key',   'text',                     false, NULL),
             ('progress',     'double precision',         false, NULL),
             ('progress_note', 'text',                    false, NULL),
             ('published_by', 'text',                     false, NULL)$$,
    'jobs.job columns: order, types, NOT NULL and defaults (1.1 columns appended)');
SELECT hasnt_column('jobs', 'job', 'unique_while_running',
    'jobs.job has no unique_while_running (a finished job holds no key)');
SELECT hasnt_column('jobs', 'job', 'cancel_requested_at',
    'jobs.job has no cancel_requested_at (a cancelled job has status cancelled)');
SELECT col_type_is('jobs', 'job', 'result', 'jsonb', 'job.result is jsonb');
SELECT col_is_null('jobs', 'job', 'result', 'job.result is nullable');
SELECT col_default_is('jobs', 'job', 'finished_at', 'now()'::text,
    'job.finished_at defaults to now()');
SELECT col_hasnt_default('jobs', 'job', 'job_id',
    'job.job_id has no default (ids come from job_queue)');
SELECT has_pk('jobs', 'job', 'jobs.job has a primary key');
SELECT col_is_pk('jobs', 'job', ARRAY['job_id'], 'jobs.job primary key is (job_id)');
SELECT indexes_are('jobs', 'job', ARRAY['job_pkey', 'job_finished_at_idx', 'job_failed_idx'],
    'jobs.job has exactly the primary key, the finished_at index and the dead-letter index');
SELECT has_index('jobs', 'job', 'job_finished_at_idx', ARRAY['finished_at'],
    'jobs.job is indexed on finished_at');
SELECT results_eq(
    $$SELECT pg_catalog.pg_get_indexdef(indexrelid)
        FROM pg_catalog.pg_index
       WHERE indrelid = 'jobs.job'::regclass
       ORDER BY indexrelid::regclass::text$$,
    ARRAY[
        'CREATE INDEX job_failed_idx ON jobs.job USING btree (finished_at) WHERE (status = ''failed''::jobs.job_status)',
        'CREATE INDEX job_finished_at_idx ON jobs.job USING btree (finished_at)',
        'CREATE UNIQUE INDEX job_pkey ON jobs.job USING btree (job_id)'],
    'jobs.job index definitions (job_failed_idx: failed jobs by finished_at)');

-- ---------------------------------------------------------------------------
-- jobs.topic_control (1.1): paused topics, concurrency and rate limits
-- ---------------------------------------------------------------------------

SELECT has_table('jobs', 'topic_control', 'table jobs.topic_control exists');
SELECT columns_are('jobs', 'topic_control', ARRAY[
    'pattern', 'paused', 'max_running', 'rate', 'burst', 'tokens', 'refilled_at',
    'updated_at'], 'jobs.topic_control has exactly the expected columns');
SELECT results_eq(
    $$SELECT a.attname::text COLLATE "default", pg_catalog.format_type(a.atttypid, a.atttypmod),
             a.attnotnull, pg_catalog.pg_get_expr(d.adbin, d.adrelid) COLLATE "default"
        FROM pg_catalog.pg_attribute a
        LEFT JOIN pg_catalog.pg_attrdef d
               ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE a.attrelid = 'jobs.topic_control'::regclass
         AND a.attnum > 0 AND NOT a.attisdropped
       ORDER BY a.attnum$$,
    $$VALUES ('pattern',     'text',                     true,  NULL::text),
             ('paused',      'boolean',                  true,  'false'),
             ('max_running', 'integer',                  false, NULL),
             ('rate',        'double precision',         false, NULL),
             ('burst',       'integer',                  false, NULL),
             ('tokens',      'double precision',         false, NULL),
             ('refilled_at', 'timestamp with time zone', false, NULL),
             ('updated_at',  'timestamp with time zone', true,  'now()')$$,
    'jobs.topic_control columns: order, types, NOT NULL and defaults');
SELECT has_pk('jobs', 'topic_control', 'jobs.topic_control has a primary key');
SELECT col_is_pk('jobs', 'topic_control', ARRAY['pattern'],
    'jobs.topic_control primary key is (pattern)');
SELECT indexes_are('jobs', 'topic_control', ARRAY['topic_control_pkey'],
    'jobs.topic_control has exactly its primary key index');
SELECT results_eq(
    $$SELECT conname::text COLLATE "default", contype::text
        FROM pg_catalog.pg_constraint
       WHERE conrelid = 'jobs.topic_control'::regclass
       ORDER BY conname$$,
    $$VALUES ('topic_control_pkey', 'p')$$,
    'jobs.topic_control constraints: the primary key only (jobs.set_limit checks values)');

-- The statement trigger that drops every session's cached controls at commit.
SELECT triggers_are('jobs', 'topic_control', ARRAY['topic_control_changed'],
    'jobs.topic_control has exactly the trigger topic_control_changed');
SELECT trigger_is('jobs', 'topic_control', 'topic_control_changed',
    'jobs', 'topic_control_changed',
    'trigger topic_control_changed calls jobs.topic_control_changed()');
SELECT is(
    (SELECT pg_catalog.pg_get_triggerdef(oid) FROM pg_catalog.pg_trigger
      WHERE tgrelid = 'jobs.topic_control'::regclass AND tgname = 'topic_control_changed'),
    'CREATE TRIGGER topic_control_changed AFTER INSERT OR DELETE OR UPDATE OF pattern, paused, '
    'max_running, rate, burst OR TRUNCATE ON jobs.topic_control FOR EACH STATEMENT '
    'EXECUTE FUNCTION jobs.topic_control_changed()',
    'topic_control_changed: AFTER INSERT, DELETE, TRUNCATE and UPDATE of the settings (not of the '
    'token bucket), once per statement');
SELECT results_eq(
    $$SELECT tgenabled::text, tgisinternal FROM pg_catalog.pg_trigger
       WHERE tgrelid = 'jobs.topic_control'::regclass AND tgname = 'topic_control_changed'$$,
    $$VALUES ('O', false)$$,
    'topic_control_changed is enabled (origin) and not internal');

-- ---------------------------------------------------------------------------
-- jobs.topic_grant (1.1): the topic patterns restricted roles may publish
-- and consume
-- ---------------------------------------------------------------------------

SELECT has_table('jobs', 'topic_grant', 'table jobs.topic_grant exists');
SELECT columns_are('jobs', 'topic_grant', ARRAY[
    'role', 'pattern', 'can_publish', 'can_consume', 'created_at'],
    'jobs.topic_grant has exactly the expected columns');
SELECT results_eq(
    $$SELECT a.attname::text COLLATE "default", pg_catalog.format_type(a.atttypid, a.atttypmod),
             a.attnotnull, pg_catalog.pg_get_expr(d.adbin, d.adrelid) COLLATE "default"
        FROM pg_catalog.pg_attribute a
        LEFT JOIN pg_catalog.pg_attrdef d
               ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE a.attrelid = 'jobs.topic_grant'::regclass
         AND a.attnum > 0 AND NOT a.attisdropped
       ORDER BY a.attnum$$,
    $$VALUES ('role',        'regrole',                  true,  NULL::text),
             ('pattern',     'text',                     true,  NULL),
             ('can_publish', 'boolean',                  true,  'true'),
             ('can_consume', 'boolean',                  true,  'true'),
             ('created_at',  'timestamp with time zone', true,  'now()')$$,
    'jobs.topic_grant columns: order, types, NOT NULL and defaults');
SELECT has_pk('jobs', 'topic_grant', 'jobs.topic_grant has a primary key');
SELECT col_is_pk('jobs', 'topic_grant', ARRAY['role', 'pattern'],
    'jobs.topic_grant primary key is (role, pattern): grants follow the role, not its name');
SELECT indexes_are('jobs', 'topic_grant', ARRAY['topic_grant_pkey'],
    'jobs.topic_grant has exactly its primary key index');
SELECT results_eq(
    $$SELECT pg_catalog.pg_get_indexdef(indexrelid)
        FROM pg_catalog.pg_index
       WHERE indrelid = 'jobs.topic_grant'::regclass$$,
    ARRAY['CREATE UNIQUE INDEX topic_grant_pkey ON jobs.topic_grant USING btree (role, pattern)'],
    'jobs.topic_grant index definition');
SELECT results_eq(
    $$SELECT conname::text COLLATE "default", contype::text
        FROM pg_catalog.pg_constraint
       WHERE conrelid = 'jobs.topic_grant'::regclass
       ORDER BY conname$$,
    $$VALUES ('topic_grant_pkey', 'p')$$,
    'jobs.topic_grant constraints: the primary key only (jobs.grant_topic checks values)');

-- The statement trigger that drops every session's cached grants at commit.
SELECT triggers_are('jobs', 'topic_grant', ARRAY['topic_grant_changed'],
    'jobs.topic_grant has exactly the trigger topic_grant_changed');
SELECT trigger_is('jobs', 'topic_grant', 'topic_grant_changed',
    'jobs', 'topic_control_changed',
    'trigger topic_grant_changed calls jobs.topic_control_changed()');
SELECT is(
    (SELECT pg_catalog.pg_get_triggerdef(oid) FROM pg_catalog.pg_trigger
      WHERE tgrelid = 'jobs.topic_grant'::regclass AND tgname = 'topic_grant_changed'),
    'CREATE TRIGGER topic_grant_changed AFTER INSERT OR DELETE OR UPDATE OR TRUNCATE '
    'ON jobs.topic_grant FOR EACH STATEMENT EXECUTE FUNCTION jobs.topic_control_changed()',
    'topic_grant_changed: AFTER INSERT, UPDATE (of any column), DELETE and TRUNCATE, once per statement');
SELECT results_eq(
    $$SELECT tgenabled::text, tgisinternal FROM pg_catalog.pg_trigger
       WHERE tgrelid = 'jobs.topic_grant'::regclass AND tgname = 'topic_grant_changed'$$,
    $$VALUES ('O', false)$$,
    'topic_grant_changed is enabled (origin) and not internal');

-- ---------------------------------------------------------------------------
-- jobs.recurring (1.1): recurring jobs
-- ---------------------------------------------------------------------------

SELECT has_table('jobs', 'recurring', 'table jobs.recurring exists');
SELECT columns_are('jobs', 'recurring', ARRAY[
    'name', 'cron', 'time_zone', 'task', 'body', 'timeout', 'priority', 'max_retries',
    'catch_up', 'next_run_at', 'last_run_at', 'last_job_id', 'created_at'],
    'jobs.recurring has exactly the expected columns');
SELECT results_eq(
    $$SELECT a.attname::text COLLATE "default", pg_catalog.format_type(a.atttypid, a.atttypmod),
             a.attnotnull, pg_catalog.pg_get_expr(d.adbin, d.adrelid) COLLATE "default"
        FROM pg_catalog.pg_attribute a
        LEFT JOIN pg_catalog.pg_attrdef d
               ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE a.attrelid = 'jobs.recurring'::regclass
         AND a.attnum > 0 AND NOT a.attisdropped
       ORDER BY a.attnum$$,
    $$VALUES ('name',        'text',                     true,  NULL::text),
             ('cron',        'text',                     true,  NULL),
             ('time_zone',   'text',                     true,  NULL),
             ('task',        'character varying',        true,  NULL),
             ('body',        'jsonb',                    false, NULL),
             ('timeout',     'numeric(7,2)',             false, NULL),
             ('priority',    'integer',                  false, NULL),
             ('max_retries', 'integer',                  false, NULL),
             ('catch_up',    'text',                     true,  '''once''::text'),
             ('next_run_at', 'timestamp with time zone', true,  NULL),
             ('last_run_at', 'timestamp with time zone', false, NULL),
             ('last_job_id', 'bigint',                   false, NULL),
             ('created_at',  'timestamp with time zone', true,  'now()')$$,
    'jobs.recurring columns: order, types, NOT NULL and defaults');
SELECT has_pk('jobs', 'recurring', 'jobs.recurring has a primary key');
SELECT col_is_pk('jobs', 'recurring', ARRAY['name'], 'jobs.recurring primary key is (name)');
SELECT indexes_are('jobs', 'recurring', ARRAY['recurring_pkey', 'recurring_next_run_at_idx'],
    'jobs.recurring has exactly the primary key and the next_run_at index');
SELECT results_eq(
    $$SELECT pg_catalog.pg_get_indexdef(indexrelid)
        FROM pg_catalog.pg_index
       WHERE indrelid = 'jobs.recurring'::regclass
       ORDER BY indexrelid::regclass::text$$,
    ARRAY[
        'CREATE INDEX recurring_next_run_at_idx ON jobs.recurring USING btree (next_run_at)',
        'CREATE UNIQUE INDEX recurring_pkey ON jobs.recurring USING btree (name)'],
    'jobs.recurring index definitions');
SELECT results_eq(
    $$SELECT conname::text COLLATE "default", contype::text
        FROM pg_catalog.pg_constraint
       WHERE conrelid = 'jobs.recurring'::regclass
       ORDER BY conname$$,
    $$VALUES ('recurring_pkey', 'p')$$,
    'jobs.recurring constraints: the primary key only (jobs.schedule checks values)');
SELECT is_empty(
    $$SELECT tgname FROM pg_catalog.pg_trigger WHERE tgrelid = 'jobs.recurring'::regclass$$,
    'jobs.recurring has no triggers');

-- ---------------------------------------------------------------------------
-- The id sequence
-- ---------------------------------------------------------------------------

SELECT has_sequence('jobs', 'job_id_seq', 'sequence jobs.job_id_seq exists');
SELECT results_eq(
    $$SELECT format_type(seqtypid, NULL), seqstart, seqincrement, seqmin, seqmax, seqcycle
        FROM pg_catalog.pg_sequence WHERE seqrelid = 'jobs.job_id_seq'::regclass$$,
    $$VALUES ('bigint', 1::bigint, 1::bigint, 1::bigint, 9223372036854775807::bigint, false)$$,
    'jobs.job_id_seq is a bigint sequence from 1, step 1, no cycle');

-- ---------------------------------------------------------------------------
-- jobs.bulk_job: field for field as in the original pgjobs
-- ---------------------------------------------------------------------------

SELECT has_composite('jobs', 'bulk_job', 'composite type jobs.bulk_job exists');
SELECT results_eq(
    $$SELECT a.attname::text COLLATE "default", pg_catalog.format_type(a.atttypid, a.atttypmod)
        FROM pg_catalog.pg_attribute a
       WHERE a.attrelid = 'jobs.bulk_job'::regclass
         AND a.attnum > 0 AND NOT a.attisdropped
       ORDER BY a.attnum$$,
    $$VALUES ('task', 'character varying'), ('body', 'jsonb'),
             ('scheduled_at', 'timestamp without time zone'),
             ('timeout', 'integer'), ('priority', 'integer'),
             ('max_retries', 'integer')$$,
    'jobs.bulk_job has its 6 fields in order with their types');

-- ---------------------------------------------------------------------------
-- Views
-- ---------------------------------------------------------------------------

SELECT has_view('jobs', 'all', 'view jobs.all exists');
SELECT results_eq(
    $$SELECT a.attname::text COLLATE "default", pg_catalog.format_type(a.atttypid, a.atttypmod)
        FROM pg_catalog.pg_attribute a
       WHERE a.attrelid = 'jobs.all'::regclass AND a.attnum > 0
       ORDER BY a.attnum$$,
    $$VALUES ('job_id', 'bigint'), ('task', 'character varying'), ('body', 'jsonb'),
             ('status', 'jobs.job_status'), ('priority', 'integer'), ('attempts', 'integer'),
             ('max_retries', 'integer'), ('timeout', 'numeric(7,2)'),
             ('last_error', 'text'), ('result', 'jsonb'),
             ('created_at', 'timestamp with time zone'),
             ('scheduled_at', 'timestamp with time zone'),
             ('started_at', 'timestamp with time zone'),
             ('expires_at', 'timestamp with time zone'),
             ('finished_at', 'timestamp with time zone'),
             ('unique_key', 'text'), ('progress', 'double precision'),
             ('progress_note', 'text'),
             ('cancel_requested_at', 'timestamp with time zone'),
             ('published_by', 'text')$$,
    'jobs.all columns in order with their types (1.1 columns appended)');

SELECT has_view('jobs', 'running', 'view jobs.running exists');
SELECT has_view('jobs', 'expired', 'view jobs.expired exists');
SELECT results_eq(
    $$SELECT a.attname::text COLLATE "default", pg_catalog.format_type(a.atttypid, a.atttypmod)
        FROM pg_catalog.pg_attribute a
       WHERE a.attrelid = 'jobs.running'::regclass AND a.attnum > 0
       ORDER BY a.attnum$$,
    $$VALUES ('job_id', 'bigint'), ('task', 'character varying'), ('body', 'jsonb'),
             ('priority', 'integer'), ('attempts', 'integer'),
             ('max_retries', 'integer'), ('timeout', 'numeric(7,2)'),
             ('created_at', 'timestamp with time zone'),
             ('scheduled_at', 'timestamp with time zone'),
             ('started_at', 'timestamp with time zone'),
             ('expires_at', 'timestamp with time zone'),
             ('progress', 'double precision'), ('progress_note', 'text'),
             ('cancel_requested_at', 'timestamp with time zone'),
             ('published_by', 'text')$$,
    'jobs.running columns in order with their types (progress, cancellation and publisher appended)');
SELECT results_eq(
    $$SELECT a.attname::text COLLATE "default", pg_catalog.format_type(a.atttypid, a.atttypmod)
        FROM pg_catalog.pg_attribute a
       WHERE a.attrelid = 'jobs.expired'::regclass AND a.attnum > 0
       ORDER BY a.attnum$$,
    $$VALUES ('job_id', 'bigint'), ('task', 'character varying'), ('body', 'jsonb'),
             ('priority', 'integer'), ('attempts', 'integer'),
             ('max_retries', 'integer'), ('timeout', 'numeric(7,2)'),
             ('created_at', 'timestamp with time zone'),
             ('scheduled_at', 'timestamp with time zone'),
             ('started_at', 'timestamp with time zone'),
             ('expires_at', 'timestamp with time zone'),
             ('published_by', 'text')$$,
    'jobs.expired columns in order with their types (1.0''s, then the publisher)');

-- The dead-letter queue: failed jobs only.
SELECT has_view('jobs', 'dead_letter', 'view jobs.dead_letter exists');
SELECT results_eq(
    $$SELECT a.attname::text COLLATE "default", pg_catalog.format_type(a.atttypid, a.atttypmod)
        FROM pg_catalog.pg_attribute a
       WHERE a.attrelid = 'jobs.dead_letter'::regclass AND a.attnum > 0
       ORDER BY a.attnum$$,
    $$VALUES ('job_id', 'bigint'), ('task', 'character varying'), ('body', 'jsonb'),
             ('priority', 'integer'), ('attempts', 'integer'),
             ('max_retries', 'integer'), ('timeout', 'numeric(7,2)'),
             ('last_error', 'text'),
             ('created_at', 'timestamp with time zone'),
             ('scheduled_at', 'timestamp with time zone'),
             ('started_at', 'timestamp with time zone'),
             ('finished_at', 'timestamp with time zone'),
             ('unique_key', 'text'), ('published_by', 'text')$$,
    'jobs.dead_letter columns in order with their types');

-- All four are security barriers: a condition of the caller's query runs
-- only on the rows the view lets through.
SELECT results_eq(
    $$SELECT c.relname::text COLLATE "default", c.reloptions::text[] COLLATE "default"
        FROM pg_catalog.pg_class c
       WHERE c.relnamespace = 'jobs'::regnamespace
         AND c.relname IN ('all', 'running', 'expired', 'dead_letter')
       ORDER BY c.relname$$,
    $$VALUES ('all', ARRAY['security_barrier=true']::text[]), ('dead_letter', ARRAY['security_barrier=true']),
             ('expired', ARRAY['security_barrier=true']), ('running', ARRAY['security_barrier=true'])$$,
    'the four filtered views are security barriers');

-- The four views producers and consumers read, whole: each shows a row only
-- when jobs.sees_all_jobs() (not a tenant) or the current role published
-- it.  (pg_get_viewdef leaves out the schema of what the default
-- search_path finds, pg_catalog's now() and =.)
SELECT is(pg_catalog.pg_get_viewdef('jobs.all'::regclass), $$ SELECT a.job_id,
    a.task,
    a.body,
    a.status,
    a.priority,
    a.attempts,
    a.max_retries,
    a.timeout,
    a.last_error,
    a.result,
    a.created_at,
    a.scheduled_at,
    a.started_at,
    a.expires_at,
    a.finished_at,
    a.unique_key,
    a.progress,
    a.progress_note,
    a.cancel_requested_at,
    a.published_by
   FROM ( SELECT q.job_id,
            q.task,
            q.body,
            q.status,
            q.priority,
            q.attempts,
            q.max_retries,
            q.timeout,
            q.last_error,
            NULL::jsonb AS result,
            q.created_at,
            q.scheduled_at,
            q.started_at,
            q.expires_at,
            NULL::timestamp with time zone AS finished_at,
            q.unique_key,
            q.progress,
            q.progress_note,
            q.cancel_requested_at,
            q.published_by
           FROM jobs.job_queue q
        UNION ALL
         SELECT j.job_id,
            j.task,
            j.body,
            j.status,
            j.priority,
            j.attempts,
            j.max_retries,
            j.timeout,
            j.last_error,
            j.result,
            j.created_at,
            j.scheduled_at,
            j.started_at,
            NULL::timestamp with time zone AS timestamptz,
            j.finished_at,
            j.unique_key,
            j.progress,
            j.progress_note,
            NULL::timestamp with time zone AS timestamptz,
            j.published_by
           FROM jobs.job j) a
  WHERE (jobs.sees_all_jobs() OR (a.published_by = (CURRENT_USER)::text));$$,
    'jobs.all: both tables, filtered above their UNION ALL to what the current role may see');
SELECT is(pg_catalog.pg_get_viewdef('jobs.running'::regclass), $$ SELECT q.job_id,
    q.task,
    q.body,
    q.priority,
    q.attempts,
    q.max_retries,
    q.timeout,
    q.created_at,
    q.scheduled_at,
    q.started_at,
    q.expires_at,
    q.progress,
    q.progress_note,
    q.cancel_requested_at,
    q.published_by
   FROM jobs.job_queue q
  WHERE ((q.status = 'running'::jobs.job_status) AND (q.expires_at >= now()) AND (jobs.sees_all_jobs() OR (q.published_by = (CURRENT_USER)::text)));$$,
    'jobs.running: running jobs whose lease holds, filtered to what the current role may see');
SELECT is(pg_catalog.pg_get_viewdef('jobs.expired'::regclass), $$ SELECT q.job_id,
    q.task,
    q.body,
    q.priority,
    q.attempts,
    q.max_retries,
    q.timeout,
    q.created_at,
    q.scheduled_at,
    q.started_at,
    q.expires_at,
    q.published_by
   FROM jobs.job_queue q
  WHERE ((q.status = 'running'::jobs.job_status) AND (q.expires_at < now()) AND (jobs.sees_all_jobs() OR (q.published_by = (CURRENT_USER)::text)));$$,
    'jobs.expired: running jobs past their lease, filtered to what the current role may see');
SELECT is(pg_catalog.pg_get_viewdef('jobs.dead_letter'::regclass), $$ SELECT j.job_id,
    j.task,
    j.body,
    j.priority,
    j.attempts,
    j.max_retries,
    j.timeout,
    j.last_error,
    j.created_at,
    j.scheduled_at,
    j.started_at,
    j.finished_at,
    j.unique_key,
    j.published_by
   FROM jobs.job j
  WHERE ((j.status = 'failed'::jobs.job_status) AND (jobs.sees_all_jobs() OR (j.published_by = (CURRENT_USER)::text)));$$,
    'jobs.dead_letter: failed jobs only, filtered to what the current role may see');

-- The monitoring views: their columns are what dashboards and the
-- postgres_exporter queries (monitoring/postgres_exporter) read.
SELECT results_eq(
    $$SELECT a.attname::text COLLATE "default", pg_catalog.format_type(a.atttypid, a.atttypmod)
        FROM pg_catalog.pg_attribute a
       WHERE a.attrelid = 'jobs.stats'::regclass AND a.attnum > 0
       ORDER BY a.attnum$$,
    $$VALUES ('level', 'text'), ('name', 'text'), ('topic', 'text'),
             ('ready', 'bigint'), ('scheduled', 'bigint'), ('running', 'bigint'),
             ('lag_seconds', 'double precision'),
             ('claims_1m', 'bigint'), ('claims_5m', 'bigint'), ('claims_15m', 'bigint'),
             ('completions_1m', 'bigint'), ('completions_5m', 'bigint'),
             ('completions_15m', 'bigint'), ('succeeded_15m', 'bigint'), ('failed_15m', 'bigint'),
             ('wait_p50', 'double precision'), ('wait_p95', 'double precision'),
             ('wait_p99', 'double precision'), ('run_p50', 'double precision'),
             ('run_p95', 'double precision'), ('run_p99', 'double precision')$$,
    'jobs.stats columns in order with their types');
SELECT results_eq(
    $$SELECT a.attname::text COLLATE "default", pg_catalog.format_type(a.atttypid, a.atttypmod)
        FROM pg_catalog.pg_attribute a
       WHERE a.attrelid = 'jobs.health'::regclass AND a.attnum > 0
       ORDER BY a.attnum$$,
    $$VALUES ('check', 'text'), ('status', 'text'), ('value', 'double precision'),
             ('detail', 'text'), ('what_to_do', 'text')$$,
    'jobs.health columns in order with their types');

-- ---------------------------------------------------------------------------
-- pg_dump keeps the jobs: tables and sequence are extension config
-- ---------------------------------------------------------------------------

SELECT set_eq(
    $$SELECT unnest(extconfig)::regclass::text FROM pg_catalog.pg_extension
       WHERE extname = 'pgjobs'$$,
    ARRAY['jobs.job_queue', 'jobs.job', 'jobs.job_id_seq', 'jobs.topic_control', 'jobs.recurring',
          'jobs.topic_grant'],
    'job_queue, job, job_id_seq, topic_control, recurring and topic_grant are registered with pg_extension_config_dump');
SELECT is(
    (SELECT array_length(extconfig, 1) = array_length(extcondition, 1)
            AND '' = ALL (extcondition)
       FROM pg_catalog.pg_extension WHERE extname = 'pgjobs'),
    true,
    'every config table is dumped whole (empty filter condition)');
SELECT is_empty(
    $$SELECT c.oid::regclass::text FROM pg_catalog.pg_class c
       WHERE c.relnamespace = 'jobs'::regnamespace AND c.relkind IN ('r', 'v', 'S', 'c')
         AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                          WHERE ((d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid)
                                 OR (d.classid = 'pg_catalog.pg_type'::regclass AND d.objid = c.reltype
                                     AND c.relkind = 'c'))
                            AND d.deptype = 'e'
                            AND d.refobjid = (SELECT oid FROM pg_catalog.pg_extension
                                               WHERE extname = 'pgjobs'))$$,
    'every table, view, sequence and type in jobs is a member of the extension');

SELECT * FROM finish();
ROLLBACK;
