-- Describes every object of the pgjobs extension, one line each, so that
-- two databases can be compared: a fresh install of the current version and
-- one upgraded step by step from the oldest release (007_upgrade.pl).
WITH ext AS (
    SELECT oid FROM pg_extension WHERE extname = 'pgjobs'
), member AS (
    SELECT d.classid, d.objid FROM pg_depend d, ext
     WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid
       AND d.deptype = 'e'
), lines AS (
    -- functions: definition (language, volatility, SET, SECURITY), ACL, comment
    SELECT 'function ' || p.oid::regprocedure::text || E'\n'
           || pg_get_functiondef(p.oid)
           || E'\nacl ' || coalesce(p.proacl::text, '-')
           || E'\ncomment ' || coalesce(obj_description(p.oid, 'pg_proc'), '-') AS line
      FROM member m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
    UNION ALL
    -- relations: kind, options, ACL, comment
    SELECT 'relation ' || c.oid::regclass::text || ' kind ' || c.relkind::text
           || ' options ' || coalesce(c.reloptions::text, '-')
           || ' acl ' || coalesce(c.relacl::text, '-')
           || ' comment ' || coalesce(obj_description(c.oid, 'pg_class'), '-')
           || CASE WHEN c.relkind = 'v' THEN E'\n' || pg_get_viewdef(c.oid) ELSE '' END
      FROM member m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    UNION ALL
    -- columns, in order, of every relation of the extension
    SELECT 'column ' || c.oid::regclass::text || ' ' || a.attnum || ' ' || a.attname
           || ' ' || format_type(a.atttypid, a.atttypmod)
           || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
           || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
      FROM member m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
    UNION ALL
    -- indexes, constraints and triggers of the extension's tables
    SELECT 'index ' || pg_get_indexdef(i.indexrelid)
      FROM member m JOIN pg_index i ON m.classid = 'pg_class'::regclass AND i.indrelid = m.objid
    UNION ALL
    SELECT 'constraint ' || co.conrelid::regclass::text || ' ' || co.conname || ' '
           || pg_get_constraintdef(co.oid)
      FROM member m JOIN pg_constraint co ON m.classid = 'pg_class'::regclass AND co.conrelid = m.objid
    UNION ALL
    SELECT 'trigger ' || pg_get_triggerdef(t.oid)
      FROM member m JOIN pg_trigger t ON m.classid = 'pg_class'::regclass AND t.tgrelid = m.objid
     WHERE NOT t.tgisinternal
    UNION ALL
    -- types: enum labels in order, composite fields
    SELECT 'type ' || t.oid::regtype::text || ' ' || t.typtype::text
           || coalesce(' labels ' || (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                                        FROM pg_enum e WHERE e.enumtypid = t.oid), '')
      FROM member m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
    UNION ALL
    -- sequences
    SELECT 'sequence ' || s.seqrelid::regclass::text || ' ' || format_type(s.seqtypid, NULL)
           || ' ' || s.seqstart || ' ' || s.seqincrement || ' ' || s.seqmax || ' ' || s.seqcycle
      FROM member m JOIN pg_sequence s ON m.classid = 'pg_class'::regclass AND s.seqrelid = m.objid
    UNION ALL
    -- what pg_dump dumps
    SELECT 'config_dump ' || (SELECT string_agg(x::regclass::text, ',' ORDER BY x::regclass::text)
                                FROM unnest(e.extconfig) x)
      FROM pg_extension e WHERE e.extname = 'pgjobs'
    UNION ALL
    SELECT 'schema ' || n.nspname || ' acl ' || coalesce(n.nspacl::text, '-')
      FROM pg_namespace n WHERE n.nspname = 'jobs'
)
SELECT line FROM lines ORDER BY line;
