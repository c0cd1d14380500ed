import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify as toYaml } from 'yaml';
import { replicaPorts } from '../../backends/replica-ports.js';
import { loadScenario } from '../../core/scenario.js';
import {
  composeFlag,
  DASHBOARD_FILE,
  dashboardQueries,
  PROMETHEUS_FILE,
  readJson,
  readCompose,
  readYaml,
  recordingRules,
  type ComposeService,
  type Dashboard,
  type DatasourceRef,
  type PrometheusConfig,
} from './deploy-files.js';

/**
 * The compose demo's files agree with each other and with the scenario, without an engine:
 * Grafana's provisioning (which CI cannot run) points at what compose mounts and Prometheus
 * serves, every dashboard query parses, and Prometheus scrapes exactly the ports the hosts
 * listen on. test/compose/run.sh checks the same files against live services.
 */

const compose = readCompose();
const dashboard = readJson<Dashboard>(DASHBOARD_FILE);
const datasources = readYaml<{ datasources: { uid: string; type: string; url: string }[] }>(
  'deploy/grafana/provisioning/datasources/prometheus.yml',
);
const providers = readYaml<{ providers: { options: { path: string } }[] }>('deploy/grafana/provisioning/dashboards/dispatchlab.yml');
const prometheus = readYaml<PrometheusConfig>(PROMETHEUS_FILE);

function service(name: string): ComposeService {
  const found = compose.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}

/** The value after `flag` in a service's command, with `${VAR:-default}` taken at its default. */
function flag(name: string, flagName: string): string {
  return composeFlag(compose.services, name, flagName);
}

/** Where a service mounts a folder of the repository (`./deploy/x:/target:ro`). */
function mountTarget(name: string, source: string): string {
  const volume = (service(name).volumes ?? []).find((v) => v.split(':')[0] === source);
  if (!volume) throw new Error(`service ${name} does not mount ${source}`);
  return volume.split(':')[1];
}

function scrapeJob(job: string): PrometheusConfig['scrape_configs'][number] {
  const config = prometheus.scrape_configs.find((c) => c.job_name === job);
  if (!config) throw new Error(`${PROMETHEUS_FILE} has no job "${job}"`);
  return config;
}

function scrapeTargets(job: string): string[] {
  return (scrapeJob(job).static_configs ?? []).flatMap((s) => s.targets);
}

function promtoolPath(): string {
  const dir = execFileSync('bash', ['scripts/ensure-promtool.sh'], { encoding: 'utf8' }).trim();
  return join(dir, 'promtool');
}

const scenarioFile = flag('dispatcher', '--scenario');
/** The network alias every dispatcher container answers to (docker-compose.yml). */
const DISPATCHERS_ALIAS = 'dispatchers';
const scenario = loadScenario(scenarioFile);

describe('the Grafana dashboard', () => {
  const panels = dashboard.panels.filter((p) => p.type !== 'row');

  it('has unique panel ids and fits Grafana’s 24-column grid', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels) expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
  });

  it('gives every panel at least one PromQL query', () => {
    for (const p of panels) {
      expect(p.targets?.length ?? 0, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.expr, `${p.title} ${t.refId}`).toMatch(/\S/);
    }
  });

  it('refers only to the provisioned Prometheus data source', () => {
    const provisioned = datasources.datasources.filter((d) => d.type === 'prometheus').map((d) => d.uid);
    const refs: DatasourceRef[] = [
      ...panels.flatMap((p) => [p.datasource, ...(p.targets ?? []).map((t) => t.datasource)]),
      ...dashboard.templating.list.map((v) => v.datasource),
      ...dashboard.annotations.list.map((a) => a.datasource),
    ].filter((r): r is DatasourceRef => r !== undefined && r.type === 'prometheus');
    expect(refs.length).toBeGreaterThan(panels.length);
    for (const ref of refs) expect(provisioned).toContain(ref.uid);
  });

  it('uses only recording rules that rules.yml defines', () => {
    const defined = new Set(recordingRules().map((r) => r.record));
    const used = dashboardQueries(dashboard, 300).flatMap((q) => q.expr.match(/\b[a-z_]+:[a-z0-9_:]+/g) ?? []);
    expect(used.length).toBeGreaterThan(0);
    for (const name of used) expect(defined, name).toContain(name);
  });

  describe('every query parses (promtool)', () => {
    const scratch = mkdtempSync(join(tmpdir(), 'dispatchlab-dashboard-'));
    afterAll(() => rmSync(scratch, { recursive: true, force: true }));

    it('as PromQL, through `promtool check rules` on a rules file made of them', () => {
      // promtool has no offline "parse this expression"; a recording rule per query is the same parse.
      const queries = dashboardQueries(dashboard, 300);
      const file = join(scratch, 'dashboard-queries.yml');
      const rules = queries.map((q, i) => ({ record: `dashboard:query:${i}`, expr: q.expr }));
      writeFileSync(file, toYaml({ groups: [{ name: 'dashboard', rules }] }));
      const run = spawnSync(promtoolPath(), ['check', 'rules', file], { encoding: 'utf8' });
      expect(run.stdout + run.stderr, queries.map((q) => q.where).join('\n')).toContain(`SUCCESS: ${queries.length} rules found`);
      expect(run.status).toBe(0);
    });
  });
});

describe('the recording rules', () => {
  it('compute what their names say on made-up series (`promtool test rules`)', () => {
    const run = spawnSync(promtoolPath(), ['test', 'rules', 'test/compose/rules.test.yml'], { encoding: 'utf8' });
    expect(run.stdout + run.stderr).toContain('SUCCESS');
    expect(run.status).toBe(0);
  });
});

describe('Grafana provisioning and docker-compose.yml agree', () => {
  it('the data source reaches the compose Prometheus service on its container port', () => {
    const url = new URL(datasources.datasources[0].url);
    expect(Object.keys(compose.services)).toContain(url.hostname);
    expect(service(url.hostname).ports?.some((p) => p.endsWith(`:${url.port}`))).toBe(true);
  });

  it('the dashboard provider reads the folder compose mounts the dashboards at', () => {
    const target = mountTarget('grafana', './deploy/grafana/dashboards');
    expect(providers.providers[0].options.path).toBe(target);
    expect(mountTarget('grafana', './deploy/grafana/provisioning')).toBe('/etc/grafana/provisioning');
    const home = service('grafana').environment?.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH ?? '';
    expect(posix.dirname(home)).toBe(target);
    expect(existsSync(join('deploy/grafana/dashboards', posix.basename(home)))).toBe(true);
  });
});

describe('Prometheus and the compose services agree with the scenario', () => {
  it('every host service runs its own host of the dispatcher’s scenario', () => {
    for (const host of scenario.hosts) {
      expect(flag(host.name, '--host')).toBe(host.name);
      expect(flag(host.name, '--scenario')).toBe(scenarioFile);
    }
  });

  it('the load generator and the comparison use that scenario too, and load goes through every dispatcher', () => {
    for (const name of ['loadgen', 'compare']) expect(flag(name, '--scenario')).toBe(scenarioFile);
    expect(flag('loadgen', '--target')).toBe(`http://${DISPATCHERS_ALIAS}:${flag('dispatcher', '--port')}`);
    expect(service('loadgen').command).toContain('--all-addresses');
  });

  it('extra dispatchers run the dispatcher’s very command under the shared name, and scale without a fixed host port', () => {
    const extra = service('extra-dispatcher');
    expect(extra.command).toEqual(service('dispatcher').command);
    expect(extra.environment).toEqual(service('dispatcher').environment);
    expect(extra.profiles).toEqual(['dispatchers']);
    for (const name of ['dispatcher', 'extra-dispatcher']) expect(service(name).networks?.default.aliases).toContain(DISPATCHERS_ALIAS);
    // 127.0.0.1::8080 publishes on a free loopback port; a fixed one would clash at the second container.
    expect(extra.ports?.map((p) => p.split(':'))).toEqual([
      ['127.0.0.1', '', flag('dispatcher', '--port')],
      ['127.0.0.1', '', flag('dispatcher', '--admin-port')],
    ]);
  });

  it('Prometheus scrapes one replica port of every host: the first one', () => {
    const expected = scenario.hosts.map((h) => `${h.name}:${replicaPorts(scenario, h.name)[0].port}`);
    expect(scrapeTargets('hosts').sort()).toEqual(expected.sort());
  });

  it('Prometheus scrapes the admin port of every dispatcher, found by the shared name', () => {
    expect(scrapeJob('dispatcher').dns_sd_configs).toEqual([
      expect.objectContaining({ names: [DISPATCHERS_ALIAS], type: 'A', port: Number(flag('dispatcher', '--admin-port')) }),
    ]);
  });

  it('Prometheus scrapes the load generator’s metrics port', () => {
    expect(scrapeTargets('loadgen')).toEqual([`loadgen:${flag('loadgen', '--metrics-port')}`]);
  });

  it('the dispatcher is given every replica at the port its host serves it on', () => {
    const expected = scenario.hosts.flatMap((h) => replicaPorts(scenario, h.name).map((r) => `${r.vm.name}=http://${h.name}:${r.port}`));
    expect(flag('dispatcher', '--backends').split(',').sort()).toEqual(expected.sort());
  });
});

describe('the image', () => {
  /** Native addon files under `dir`, outside its own nested node_modules (those are packages of their own). */
  function addons(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      if (e.isDirectory()) return e.name === 'node_modules' ? [] : addons(join(dir, e.name));
      return e.name.endsWith('.node') || e.name === 'binding.gyp' ? [join(dir, e.name)] : [];
    });
  }

  it('holds production dependencies with no native addon but esbuild (tsx: .ts policy files), so one build serves linux/amd64 and linux/arm64 for all else', () => {
    // What `npm prune --omit=dev` in the Dockerfile keeps; the first line is the project itself.
    // esbuild's platform binary serves only tsx, which loads a user's .ts policy file; a .js one,
    // and everything else, runs on either platform (docs/compose.md, "Platforms").
    const dirs = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .slice(1)
      .filter((dir) => !dir.includes('/node_modules/@esbuild/'));
    expect(dirs.length).toBeGreaterThan(10);
    const native = dirs.flatMap((dir) => {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { os?: unknown; cpu?: unknown; gypfile?: unknown };
      const platformBound = manifest.os !== undefined || manifest.cpu !== undefined || manifest.gypfile === true ? [`${dir} (package.json os/cpu/gypfile)`] : [];
      return [...platformBound, ...addons(dir)];
    });
    expect(native).toEqual([]);
  });
});
