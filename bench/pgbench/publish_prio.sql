-- publish, priorities mixed: one job per transaction at a random priority
-- from 0 to 9, so that consumers claim across priorities.
\set p random(0, 9)
SELECT jobs.publish('bench.task', '{"n":1}', i_priority => :p);
