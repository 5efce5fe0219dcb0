#!/usr/bin/env node
'use strict';
// The ERP database fixture of the stand-in stack: creates the ERP's main tables in
// erp_quty_karunia_prod and fills them with synthetic, deterministic data, generated on the
// server (generate_series + a hash of the row number and the seed).
//
//   node scripts/stack/seed.js --scale small|large [--seed N] [--anchor YYYY-MM-DD] [--url URL]
//
// small: about 100k rows, seconds (tests). large: >= 500 MB (backup benchmarks), minutes.
// Same seed and anchor date => identical data. Timestamps lie in the 90 days before the
// anchor (default: today, UTC). Existing fixture tables are dropped first.
const { Client } = require('pg');

const SCALES = {
  small: { users: 50, products: 500, mos: 2000, transfers: 5000, qc: 5000, checkpoints: 5000, alerts: 500, quants: 2000, moves: 20000, audit: 20000, pos: 300 },
  large: { users: 400, products: 20000, mos: 200000, transfers: 400000, qc: 400000, checkpoints: 400000, alerts: 50000, quants: 100000, moves: 900000, audit: 900000, pos: 30000 },
};

function parseArgs(argv) {
  const out = { scale: 'small', seed: 1, anchor: new Date().toISOString().slice(0, 10), url: process.env.ERP_DATABASE_URL || 'postgres://postgres:erp-stack-dev@127.0.0.1:15432/erp_quty_karunia_prod' };
  for (let i = 0; i < argv.length; i++) {
    const [k, inline] = argv[i].split('=');
    const v = inline !== undefined ? inline : argv[i + 1];
    const take = () => (inline === undefined ? i++ : 0, v);
    if (k === '--scale') out.scale = take();
    else if (k === '--seed') out.seed = Number(take());
    else if (k === '--anchor') out.anchor = take();
    else if (k === '--url') out.url = take();
    else if (k === '--help' || k === '-h') out.help = true;
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!SCALES[out.scale]) throw new Error(`--scale must be small or large, not ${out.scale}`);
  if (!Number.isInteger(out.seed)) throw new Error('--seed must be an integer');
  if (!/^\d{4}-\d{2}-\d{2}$/.test(out.anchor)) throw new Error('--anchor must be YYYY-MM-DD');
  return out;
}

// r(i, salt): deterministic uniform [0,1) from the row number, a salt and the seed.
const helpers = (seed, anchor) => `
CREATE OR REPLACE FUNCTION pg_temp.r(i bigint, salt int) RETURNS double precision
  LANGUAGE sql IMMUTABLE AS $$ SELECT ((hashint8extended(i, ${seed}::bigint * 1000 + salt) & 2147483647)::double precision / 2147483648.0) $$;
CREATE OR REPLACE FUNCTION pg_temp.pick(i bigint, salt int, arr text[]) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$ SELECT arr[1 + floor(pg_temp.r(i, salt) * array_length(arr, 1))::int] $$;
CREATE OR REPLACE FUNCTION pg_temp.ts(i bigint, salt int) RETURNS timestamptz
  LANGUAGE sql IMMUTABLE AS $$ SELECT '${anchor} 00:00:00+00'::timestamptz - make_interval(secs => floor(pg_temp.r(i, salt) * 90 * 86400)) $$;
`;

const DEPTS = "ARRAY['CUTTING','EMBROIDERY','SEWING','FINISHING','PACKING','WAREHOUSE']";

const TABLES = [
  'segregasi_acknowledgement', 'alert_logs', 'qc_checkpoints', 'qc_inspections', 'transfer_logs', 'line_occupancy',
  'work_orders', 'spks', 'manufacturing_orders', 'stock_moves', 'stock_quants', 'bom_details', 'bom_headers',
  'purchase_orders', 'audit_logs', 'products', 'users',
];

const schema = `
CREATE TABLE users (id serial PRIMARY KEY, username varchar(50) UNIQUE NOT NULL, email varchar(120) NOT NULL,
  full_name varchar(120) NOT NULL, role varchar(40) NOT NULL, is_active boolean NOT NULL DEFAULT true,
  hashed_password varchar(200) NOT NULL, failed_login_attempts int NOT NULL DEFAULT 0, locked_until timestamptz,
  created_at timestamptz NOT NULL, last_login timestamptz);
CREATE TABLE products (id serial PRIMARY KEY, code varchar(30) UNIQUE NOT NULL, name varchar(200) NOT NULL,
  type varchar(20) NOT NULL, uom varchar(10) NOT NULL, category varchar(40) NOT NULL, min_stock numeric(12,2) NOT NULL,
  is_active boolean NOT NULL DEFAULT true, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE purchase_orders (id serial PRIMARY KEY, po_number varchar(30) UNIQUE NOT NULL, supplier varchar(120) NOT NULL,
  status varchar(20) NOT NULL, order_date date NOT NULL, expected_date date, total_amount numeric(14,2) NOT NULL,
  created_by int REFERENCES users(id), created_at timestamptz NOT NULL);
CREATE TABLE bom_headers (id serial PRIMARY KEY, product_id int NOT NULL REFERENCES products(id), version int NOT NULL,
  is_active boolean NOT NULL, created_at timestamptz NOT NULL);
CREATE TABLE bom_details (id serial PRIMARY KEY, bom_header_id int NOT NULL REFERENCES bom_headers(id),
  component_id int NOT NULL REFERENCES products(id), qty_needed numeric(12,4) NOT NULL, wastage_percent numeric(5,2) NOT NULL);
CREATE TABLE manufacturing_orders (id serial PRIMARY KEY, mo_number varchar(30) UNIQUE NOT NULL,
  product_id int NOT NULL REFERENCES products(id), qty_planned int NOT NULL, qty_produced int NOT NULL,
  state varchar(20) NOT NULL, routing_type varchar(20) NOT NULL, batch_number varchar(30) NOT NULL,
  destination varchar(20) NOT NULL, created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE spks (id serial PRIMARY KEY, spk_number varchar(30) UNIQUE NOT NULL, mo_id int NOT NULL REFERENCES manufacturing_orders(id),
  department varchar(20) NOT NULL, target_qty int NOT NULL, status varchar(20) NOT NULL, created_at timestamptz NOT NULL);
CREATE TABLE work_orders (id serial PRIMARY KEY, mo_id int NOT NULL REFERENCES manufacturing_orders(id),
  department varchar(20) NOT NULL, status varchar(20) NOT NULL, input_qty int NOT NULL, output_qty int NOT NULL,
  reject_qty int NOT NULL, start_time timestamptz, end_time timestamptz);
CREATE TABLE line_occupancy (id serial PRIMARY KEY, dept_name varchar(20) NOT NULL, line_number int NOT NULL,
  occupancy_status varchar(20) NOT NULL, current_article varchar(40), current_batch varchar(30), destination varchar(20),
  locked_at timestamptz, expected_clear_time timestamptz, updated_at timestamptz NOT NULL, UNIQUE (dept_name, line_number));
CREATE TABLE transfer_logs (id serial PRIMARY KEY, mo_id int NOT NULL REFERENCES manufacturing_orders(id),
  from_dept varchar(20) NOT NULL, to_dept varchar(20) NOT NULL, qty_sent int NOT NULL, qty_received int,
  status varchar(20) NOT NULL, timestamp_start timestamptz NOT NULL, timestamp_accept timestamptz, timestamp_end timestamptz,
  is_line_clear boolean NOT NULL, line_checked_at timestamptz, line_checked_by int REFERENCES users(id), notes text);
CREATE TABLE segregasi_acknowledgement (id serial PRIMARY KEY, transfer_log_id int NOT NULL REFERENCES transfer_logs(id),
  acknowledged_by int NOT NULL REFERENCES users(id), acknowledged_at timestamptz NOT NULL, reason text NOT NULL);
CREATE TABLE alert_logs (id serial PRIMARY KEY, alert_type varchar(40) NOT NULL, severity varchar(20) NOT NULL,
  status varchar(20) NOT NULL, message text NOT NULL, related_transfer_id int REFERENCES transfer_logs(id),
  created_at timestamptz NOT NULL, acknowledged_at timestamptz, acknowledged_by int REFERENCES users(id), resolved_at timestamptz);
CREATE TABLE qc_inspections (id serial PRIMARY KEY, work_order_id int NOT NULL REFERENCES work_orders(id),
  type varchar(30) NOT NULL, status varchar(10) NOT NULL, inspected_qty int NOT NULL, defect_qty int NOT NULL,
  defect_type varchar(40), inspector_id int REFERENCES users(id), created_at timestamptz NOT NULL,
  submitted_at timestamptz, inspected_at timestamptz);
CREATE TABLE qc_checkpoints (id serial PRIMARY KEY, work_order_id int NOT NULL REFERENCES work_orders(id),
  checkpoint_name varchar(60) NOT NULL, dept varchar(20) NOT NULL, first_pass boolean NOT NULL,
  passed_qty int NOT NULL, failed_qty int NOT NULL, checked_at timestamptz NOT NULL);
CREATE TABLE stock_quants (id serial PRIMARY KEY, product_id int NOT NULL REFERENCES products(id), location varchar(40) NOT NULL,
  lot_id varchar(30), quantity numeric(14,2) NOT NULL, reserved_qty numeric(14,2) NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE stock_moves (id serial PRIMARY KEY, product_id int NOT NULL REFERENCES products(id), from_location varchar(40) NOT NULL,
  to_location varchar(40) NOT NULL, qty numeric(14,2) NOT NULL, state varchar(20) NOT NULL, reference varchar(60) NOT NULL,
  created_at timestamptz NOT NULL, done_at timestamptz);
CREATE TABLE audit_logs (id bigserial PRIMARY KEY, user_id int REFERENCES users(id), action varchar(20) NOT NULL,
  entity_type varchar(40) NOT NULL, entity_id int NOT NULL, old_values jsonb, new_values jsonb, ip_address inet,
  user_agent text, created_at timestamptz NOT NULL);
`;

const fill = (n) => [
  `INSERT INTO users (username, email, full_name, role, is_active, hashed_password, created_at, last_login)
   SELECT 'user' || i, 'user' || i || '@qutykarunia.com', initcap(pg_temp.pick(i, 1, ARRAY['adi','budi','citra','dewi','eko','fitri','gita','hadi','indah','joko'])) || ' ' || initcap(pg_temp.pick(i, 2, ARRAY['santoso','wijaya','pratama','lestari','saputra','hidayat','kusuma'])) || ' ' || i,
     CASE WHEN i = 1 THEN 'ADMIN' ELSE pg_temp.pick(i, 3, ARRAY['ADMIN','PPIC_MANAGER','SPV_CUTTING','SPV_SEWING','OPERATOR','QC_INSPECTOR','WAREHOUSE_ADMIN','PURCHASING']) END,
     pg_temp.r(i, 4) > 0.05, '$2b$12$' || md5(i::text || 'pw'), pg_temp.ts(i, 5), pg_temp.ts(i, 6)
   FROM generate_series(1, ${n.users}) i`,
  `INSERT INTO products (code, name, type, uom, category, min_stock, created_at, updated_at)
   SELECT 'PRD-' || lpad(i::text, 6, '0'), pg_temp.pick(i, 1, ARRAY['Soft toy bear','Plush rabbit','Doll dress','Stuffing fiber','Fabric velboa','Thread polyester','Carton box','Label woven']) || ' ' || i,
     pg_temp.pick(i, 2, ARRAY['RAW_MATERIAL','WIP','FINISH_GOOD']), pg_temp.pick(i, 3, ARRAY['PCS','MTR','KG','ROLL']),
     pg_temp.pick(i, 4, ARRAY['FABRIC','ACCESSORIES','PACKAGING','TOYS','FILLING']), round((pg_temp.r(i, 5) * 500)::numeric, 2), pg_temp.ts(i, 6), pg_temp.ts(i, 7)
   FROM generate_series(1, ${n.products}) i`,
  `INSERT INTO purchase_orders (po_number, supplier, status, order_date, expected_date, total_amount, created_by, created_at)
   SELECT 'PO-' || lpad(i::text, 7, '0'), 'PT Supplier ' || (1 + floor(pg_temp.r(i, 1) * 80)::int), pg_temp.pick(i, 2, ARRAY['DRAFT','SENT','RECEIVED','RECEIVED','CANCELLED']),
     pg_temp.ts(i, 3)::date, pg_temp.ts(i, 3)::date + 14, round((pg_temp.r(i, 4) * 50000000)::numeric, 2), 1 + floor(pg_temp.r(i, 5) * ${n.users})::int, pg_temp.ts(i, 3)
   FROM generate_series(1, ${n.pos}) i`,
  `INSERT INTO bom_headers (product_id, version, is_active, created_at)
   SELECT i, 1, true, pg_temp.ts(i, 1) FROM generate_series(1, ${n.products}) i WHERE i % 3 <> 1`,
  `INSERT INTO bom_details (bom_header_id, component_id, qty_needed, wastage_percent)
   SELECT h.id, 1 + floor(pg_temp.r(h.id * 10 + k, 1) * ${n.products})::int, round((0.1 + pg_temp.r(h.id * 10 + k, 2) * 3)::numeric, 4), round((pg_temp.r(h.id * 10 + k, 3) * 5)::numeric, 2)
   FROM bom_headers h, generate_series(1, 4) k`,
  `INSERT INTO manufacturing_orders (mo_number, product_id, qty_planned, qty_produced, state, routing_type, batch_number, destination, created_at, updated_at)
   SELECT 'MO-' || lpad(i::text, 8, '0'), 1 + floor(pg_temp.r(i, 1) * ${n.products})::int, q, CASE WHEN s = 'DONE' THEN q WHEN s = 'IN_PROGRESS' THEN floor(q * pg_temp.r(i, 4))::int ELSE 0 END,
     s, pg_temp.pick(i, 5, ARRAY['ROUTE1','ROUTE2','ROUTE3']), 'BATCH-' || lpad((i / 4)::text, 7, '0'), pg_temp.pick(i, 6, ARRAY['IKEA_EU','IKEA_US','IKEA_JP','IKEA_AU']), t, t + interval '1 day' * pg_temp.r(i, 7) * 10
   FROM (SELECT i, 100 + floor(pg_temp.r(i, 2) * 4900)::int AS q, pg_temp.pick(i, 3, ARRAY['DRAFT','IN_PROGRESS','IN_PROGRESS','DONE','DONE','DONE','CANCELLED']) AS s, pg_temp.ts(i, 8) AS t
         FROM generate_series(1, ${n.mos}) i) g`,
  `INSERT INTO spks (spk_number, mo_id, department, target_qty, status, created_at)
   SELECT 'SPK-' || mo.id || '-' || d, mo.id, (${DEPTS})[d], mo.qty_planned, CASE WHEN mo.state = 'DONE' THEN 'COMPLETED' WHEN mo.state = 'CANCELLED' THEN 'CANCELLED' ELSE 'IN_PROGRESS' END, mo.created_at
   FROM manufacturing_orders mo, generate_series(1, 3) d`,
  `INSERT INTO work_orders (mo_id, department, status, input_qty, output_qty, reject_qty, start_time, end_time)
   SELECT mo.id, (${DEPTS})[d], CASE WHEN mo.state = 'DONE' THEN 'FINISHED' WHEN mo.state = 'IN_PROGRESS' THEN pg_temp.pick(mo.id * 10 + d, 1, ARRAY['PENDING','RUNNING','FINISHED']) ELSE 'PENDING' END,
     mo.qty_planned, mo.qty_produced, floor(mo.qty_planned * pg_temp.r(mo.id * 10 + d, 2) * 0.03)::int, mo.created_at + d * interval '6 hours', CASE WHEN mo.state = 'DONE' THEN mo.updated_at END
   FROM manufacturing_orders mo, generate_series(1, 5) d`,
  `INSERT INTO line_occupancy (dept_name, line_number, occupancy_status, current_article, current_batch, destination, locked_at, expected_clear_time, updated_at)
   SELECT (${DEPTS})[d], l, s, CASE WHEN s <> 'CLEAR' THEN 'ART-' || (d * 100 + l) END, CASE WHEN s <> 'CLEAR' THEN 'BATCH-' || lpad((d * 1000 + l)::text, 7, '0') END,
     CASE WHEN s <> 'CLEAR' THEN pg_temp.pick(d * 100 + l, 2, ARRAY['IKEA_EU','IKEA_US','IKEA_JP']) END, CASE WHEN s <> 'CLEAR' THEN '${n.anchor} 06:00+07'::timestamptz END,
     CASE WHEN s <> 'CLEAR' THEN '${n.anchor} 10:00+07'::timestamptz END, '${n.anchor} 06:00+07'::timestamptz
   FROM (SELECT d, l, pg_temp.pick(d * 100 + l, 1, ARRAY['CLEAR','CLEAR','OCCUPIED','OCCUPIED','PAUSED']) AS s FROM generate_series(1, 6) d, generate_series(1, 8) l) g`,
  `INSERT INTO transfer_logs (mo_id, from_dept, to_dept, qty_sent, qty_received, status, timestamp_start, timestamp_accept, timestamp_end, is_line_clear, line_checked_at, line_checked_by, notes)
   SELECT mo, (${DEPTS})[d], (${DEPTS})[d + 1], q, CASE WHEN s IN ('ACCEPTED','COMPLETED') THEN q - floor(q * pg_temp.r(i, 3) * 0.01)::int END, s, t,
     CASE WHEN s IN ('ACCEPTED','COMPLETED') THEN t + interval '1 minute' * (1 + pg_temp.r(i, 4) * 30) END,
     CASE WHEN s IN ('COMPLETED','CANCELLED') THEN t + interval '1 minute' * (30 + pg_temp.r(i, 5) * 90) END,
     s <> 'BLOCKED', t - interval '2 minutes', 1 + floor(pg_temp.r(i, 6) * ${n.users})::int,
     CASE WHEN s = 'BLOCKED' THEN 'Line not clear: previous batch still on line' END
   FROM (SELECT i, 1 + floor(pg_temp.r(i, 1) * ${n.mos})::int AS mo, 1 + floor(pg_temp.r(i, 7) * 5)::int AS d, 10 + floor(pg_temp.r(i, 2) * 990)::int AS q,
           pg_temp.pick(i, 8, ARRAY['COMPLETED','COMPLETED','COMPLETED','COMPLETED','COMPLETED','COMPLETED','ACCEPTED','INITIATED','LOCKED','BLOCKED','CANCELLED']) AS s, pg_temp.ts(i, 9) AS t
         FROM generate_series(1, ${n.transfers}) i) g`,
  `INSERT INTO segregasi_acknowledgement (transfer_log_id, acknowledged_by, acknowledged_at, reason)
   SELECT id, 1 + floor(pg_temp.r(id, 1) * ${n.users})::int, timestamp_start + interval '5 minutes', 'Segregation checked: line holds batch for another destination'
   FROM transfer_logs WHERE status = 'BLOCKED' AND id % 2 = 0`,
  `INSERT INTO alert_logs (alert_type, severity, status, message, related_transfer_id, created_at, acknowledged_at, acknowledged_by, resolved_at)
   SELECT a, pg_temp.pick(i, 2, ARRAY['INFO','WARNING','WARNING','CRITICAL']), s, a || ' on line ' || (1 + i % 8), CASE WHEN a IN ('LINE_CLEARANCE_BLOCK','SEGREGASI_ALARM') THEN 1 + floor(pg_temp.r(i, 4) * ${n.transfers})::int END,
     t, CASE WHEN s <> 'PENDING' THEN t + interval '3 minutes' END, CASE WHEN s <> 'PENDING' THEN 1 END, CASE WHEN s = 'RESOLVED' THEN t + interval '40 minutes' END
   FROM (SELECT i, pg_temp.pick(i, 1, ARRAY['LINE_CLEARANCE_BLOCK','SEGREGASI_ALARM','QC_FAIL','LOW_STOCK','MACHINE_DOWN']) AS a,
           pg_temp.pick(i, 3, ARRAY['RESOLVED','RESOLVED','RESOLVED','ACKNOWLEDGED','PENDING']) AS s, pg_temp.ts(i, 5) AS t FROM generate_series(1, ${n.alerts}) i) g`,
  // Each inspection was submitted to QC 3 to 15 s before its result (the runbook's QC response
  // target is under 30 s): submitted_at → inspected_at, the result written at inspected_at.
  `INSERT INTO qc_inspections (work_order_id, type, status, inspected_qty, defect_qty, defect_type, inspector_id, created_at, submitted_at, inspected_at)
   SELECT wo, ty, CASE WHEN fail THEN 'FAIL' ELSE 'PASS' END, q, CASE WHEN fail THEN 1 + floor(q * 0.05 * pg_temp.r(i, 4))::int ELSE 0 END,
     CASE WHEN fail THEN pg_temp.pick(i, 5, CASE WHEN ty = 'FINAL_METAL_DETECTOR' THEN ARRAY['METAL_CONTAMINATION'] ELSE ARRAY['STITCHING','STAIN','SHAPE','LABEL'] END) END,
     1 + floor(pg_temp.r(i, 6) * ${n.users})::int, t, t - make_interval(secs => 3 + pg_temp.r(i, 9) * 12), t
   FROM (SELECT i, 1 + floor(pg_temp.r(i, 1) * ${n.mos * 5})::int AS wo, pg_temp.pick(i, 2, ARRAY['INCOMING','INLINE','INLINE','FINAL','FINAL_METAL_DETECTOR']) AS ty,
           pg_temp.r(i, 3) < 0.015 AS fail, 20 + floor(pg_temp.r(i, 8) * 480)::int AS q, pg_temp.ts(i, 7) AS t FROM generate_series(1, ${n.qc}) i) g`,
  `INSERT INTO qc_checkpoints (work_order_id, checkpoint_name, dept, first_pass, passed_qty, failed_qty, checked_at)
   SELECT 1 + floor(pg_temp.r(i, 1) * ${n.mos * 5})::int, pg_temp.pick(i, 2, ARRAY['Cutting accuracy','Embroidery check','Seam strength','Stuffing weight','Final appearance']),
     (${DEPTS})[1 + floor(pg_temp.r(i, 3) * 5)::int], fp, 50 + floor(pg_temp.r(i, 4) * 200)::int, CASE WHEN fp THEN 0 ELSE 1 + floor(pg_temp.r(i, 5) * 10)::int END, pg_temp.ts(i, 6)
   FROM (SELECT i, pg_temp.r(i, 7) >= 0.03 AS fp FROM generate_series(1, ${n.checkpoints}) i) g`,
  `INSERT INTO stock_quants (product_id, location, lot_id, quantity, reserved_qty, updated_at)
   SELECT 1 + (i % ${n.products}), pg_temp.pick(i, 1, ARRAY['WH/STOCK','WH/FG','WH/RM','PROD/CUTTING','PROD/SEWING']), 'LOT-' || lpad(i::text, 8, '0'),
     round((pg_temp.r(i, 2) * 10000)::numeric, 2), round((pg_temp.r(i, 3) * 100)::numeric, 2), pg_temp.ts(i, 4)
   FROM generate_series(1, ${n.quants}) i`,
  `INSERT INTO stock_moves (product_id, from_location, to_location, qty, state, reference, created_at, done_at)
   SELECT 1 + floor(pg_temp.r(i, 1) * ${n.products})::int, pg_temp.pick(i, 2, ARRAY['WH/STOCK','WH/RM','PROD/CUTTING','PROD/SEWING','VENDOR']),
     pg_temp.pick(i, 3, ARRAY['WH/FG','PROD/CUTTING','PROD/SEWING','PROD/PACKING','CUSTOMER']), round((1 + pg_temp.r(i, 4) * 999)::numeric, 2), s,
     'MO-' || lpad((1 + floor(pg_temp.r(i, 5) * ${n.mos})::int)::text, 8, '0') || '/MOVE/' || i, t, CASE WHEN s = 'DONE' THEN t + interval '2 hours' END
   FROM (SELECT i, pg_temp.pick(i, 6, ARRAY['DONE','DONE','DONE','DRAFT','CANCELLED']) AS s, pg_temp.ts(i, 7) AS t FROM generate_series(1, ${n.moves}) i) g`,
  `INSERT INTO audit_logs (user_id, action, entity_type, entity_id, old_values, new_values, ip_address, user_agent, created_at)
   SELECT 1 + floor(pg_temp.r(i, 1) * ${n.users})::int, pg_temp.pick(i, 2, ARRAY['CREATE','UPDATE','UPDATE','UPDATE','DELETE','LOGIN']), e, 1 + floor(pg_temp.r(i, 4) * 100000)::int,
     jsonb_build_object('status', pg_temp.pick(i, 5, ARRAY['DRAFT','IN_PROGRESS','LOCKED']), 'qty', floor(pg_temp.r(i, 6) * 1000)::int, 'note', repeat(md5(i::text), 2)),
     jsonb_build_object('status', pg_temp.pick(i, 7, ARRAY['IN_PROGRESS','DONE','ACCEPTED']), 'qty', floor(pg_temp.r(i, 8) * 1000)::int, 'note', repeat(md5((i + 1)::text), 2), 'entity', e),
     ('127.0.' || (i % 250) || '.' || (1 + i % 250))::inet, 'Mozilla/5.0 (X11; Linux x86_64) ERP-Client/' || (1 + i % 7), pg_temp.ts(i, 9)
   FROM (SELECT i, pg_temp.pick(i, 3, ARRAY['manufacturing_orders','work_orders','transfer_logs','qc_inspections','stock_moves','users']) AS e FROM generate_series(1, ${n.audit}) i) g`,
];

const post = `
CREATE INDEX ON manufacturing_orders (state);
CREATE INDEX ON work_orders (mo_id);
CREATE INDEX ON transfer_logs (status, timestamp_start);
CREATE INDEX ON alert_logs (status, created_at);
CREATE INDEX ON qc_inspections (created_at);
CREATE INDEX ON stock_moves (product_id);
CREATE INDEX ON audit_logs (created_at);
-- Created here, not only at initdb: an extension created in single-user mode right after
-- initdb has a system OID, and pg_dump leaves such objects out of its dumps.
DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements' AND oid < 16384) THEN
    DROP EXTENSION pg_stat_statements CASCADE;
  END IF;
END $$;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE OR REPLACE VIEW v_slow_queries AS
  SELECT queryid, query, calls, total_exec_time, mean_exec_time, rows
  FROM pg_stat_statements WHERE mean_exec_time > 100 ORDER BY mean_exec_time DESC;
DROP MATERIALIZED VIEW IF EXISTS mv_qc_pass_rate;
CREATE MATERIALIZED VIEW mv_qc_pass_rate AS
  SELECT date_trunc('day', created_at)::date AS day, type,
         count(*) AS inspections, count(*) FILTER (WHERE status = 'PASS') AS passed,
         round(100.0 * count(*) FILTER (WHERE status = 'PASS') / count(*), 2) AS pass_rate
  FROM qc_inspections GROUP BY 1, 2;
ANALYZE;
`;

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.help) {
    console.log('usage: node scripts/stack/seed.js --scale small|large [--seed N] [--anchor YYYY-MM-DD] [--url postgres://...]');
    return;
  }
  const n = { ...SCALES[opts.scale], anchor: opts.anchor };
  const client = new Client({ connectionString: opts.url, application_name: 'erp-stack-seed' });
  const t0 = Date.now();
  await client.connect();
  const step = async (label, sql) => {
    const t = Date.now();
    await client.query(sql);
    console.log(`[seed] ${label} (${((Date.now() - t) / 1000).toFixed(1)}s)`);
  };
  try {
    console.log(`[seed] scale=${opts.scale} seed=${opts.seed} anchor=${opts.anchor} -> ${opts.url.replace(/:[^:@/]*@/, ':***@')}`);
    await client.query('SET synchronous_commit = off');
    await client.query(helpers(opts.seed, opts.anchor));
    await step('drop old fixture', `DROP MATERIALIZED VIEW IF EXISTS mv_qc_pass_rate; DROP VIEW IF EXISTS v_slow_queries; DROP TABLE IF EXISTS ${TABLES.join(', ')} CASCADE`);
    await step('create tables', schema);
    for (const sql of fill(n)) {
      const table = /INSERT INTO (\w+)/.exec(sql)[1];
      await step(`fill ${table}`, sql);
    }
    await step('indexes, v_slow_queries, mv_qc_pass_rate, analyze', post);
    // Forget the seed's own statements, then run a few genuinely slow ones, so that
    // v_slow_queries has rows to show.
    await client.query('SELECT pg_stat_statements_reset()');
    for (let i = 0; i < 3; i++) {
      await client.query(`SELECT count(*) FROM products p WHERE pg_sleep(0.15) IS NOT NULL AND p.id = $1 /* erp-stack slow report query */`, [i + 1]);
    }
    const counts = await client.query(TABLES.map((t) => `SELECT '${t}' AS t, count(*)::int AS n FROM ${t}`).join(' UNION ALL '));
    const size = await client.query('SELECT pg_size_pretty(pg_database_size(current_database())) AS size');
    console.log(`[seed] ${counts.rows.map((r) => `${r.t}=${r.n}`).join(' ')}`);
    console.log(`[seed] done in ${((Date.now() - t0) / 1000).toFixed(1)}s; database size ${size.rows[0].size}`);
  } finally {
    await client.end();
  }
}

main().catch((err) => {
  console.error(`[seed] failed: ${err.message}`);
  process.exit(1);
});
