// Before the tests: make sure Redis (127.0.0.1:6379) and PostgreSQL (127.0.0.1:5432, user
// postgres, database test) answer. If one does not, start it; if it is not installed and we
// run as root, install it with apt-get first; otherwise fail saying exactly what to install.
// TEST_REDIS_URL / TEST_DATABASE_URL point the suite elsewhere and skip this check.
import { execSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';

function answers(port, host = '127.0.0.1', timeoutMs = 1000) {
  return new Promise((resolve) => {
    const s = connect({ port, host });
    const done = (ok) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

async function waitFor(port, seconds) {
  for (let i = 0; i < seconds * 4; i++) {
    if (await answers(port)) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

const isRoot = process.getuid?.() === 0;
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const sh = (cmd) => execSync(cmd, { stdio: 'inherit' });
let aptUpdated = false;
function aptInstall(pkgs) {
  if (!isRoot) return false;
  if (!aptUpdated) sh('apt-get update -qq');
  aptUpdated = true;
  sh(`DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${pkgs}`);
  return true;
}

async function ensureRedis() {
  if (process.env.TEST_REDIS_URL) return;
  if (await answers(6379)) return;
  if (!has('redis-server') && !aptInstall('redis-server')) {
    throw new Error(
      'Redis is not running on 127.0.0.1:6379 and redis-server is not installed: install Redis 7 (apt-get install redis-server) or set TEST_REDIS_URL',
    );
  }
  console.log('starting redis-server on 127.0.0.1:6379');
  sh('redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no');
  if (!(await waitFor(6379, 15))) throw new Error('redis-server did not start on 127.0.0.1:6379');
}

/** True when this run installed PostgreSQL (its loopback auth may then be set to trust). */
let installedPostgres = false;

async function ensurePostgres() {
  if (process.env.TEST_DATABASE_URL) return;
  if (!(await answers(5432))) {
    if (!existsSync('/etc/postgresql')) installedPostgres = aptInstall('postgresql');
    if (!existsSync('/etc/postgresql')) {
      throw new Error(
        'PostgreSQL is not running on 127.0.0.1:5432 and is not installed: install PostgreSQL 15+ (apt-get install postgresql) or set TEST_DATABASE_URL',
      );
    }
    if (!isRoot)
      throw new Error(
        'PostgreSQL is installed but not running; start it (pg_ctlcluster <version> main start) or set TEST_DATABASE_URL',
      );
    const version = readdirSync('/etc/postgresql')[0];
    console.log(`starting PostgreSQL ${version}`);
    sh(`pg_ctlcluster --skip-systemctl-redirect ${version} main start || true`);
    if (!(await waitFor(5432, 30))) throw new Error('PostgreSQL did not start on 127.0.0.1:5432');
  }
  // The suite connects as postgres without a password to database "test".
  const psql = (sql, db = 'postgres') =>
    spawnSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', db, '-tAc', sql], { encoding: 'utf8' });
  const probe = psql('select 1', 'test');
  if (probe.status === 0) return;
  if (isRoot) {
    if (installedPostgres) {
      // A cluster we just installed: Debian's default asks loopback TCP clients for a
      // password; the suite's throwaway database trusts them instead. Never done to a
      // PostgreSQL that was already there.
      const version = readdirSync('/etc/postgresql')[0];
      const hba = `/etc/postgresql/${version}/main/pg_hba.conf`;
      const trust = 'host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n';
      writeFileSync(hba, trust + readFileSync(hba, 'utf8'));
      sh(`pg_ctlcluster --skip-systemctl-redirect ${version} main reload`);
    }
    spawnSync('su', ['postgres', '-c', `psql -tAc "create database test"`], { stdio: 'inherit' });
    if (psql('select 1', 'test').status === 0) return;
  }
  throw new Error(
    `cannot connect to postgres://postgres@127.0.0.1:5432/test: ${probe.stderr.trim()} (trust auth for user postgres and a database "test" are expected, or set TEST_DATABASE_URL)`,
  );
}

try {
  await ensureRedis();
  await ensurePostgres();
} catch (err) {
  console.error(`ensure-services: ${err.message}`);
  process.exit(1);
}
