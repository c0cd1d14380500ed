import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

/**
 * Reads the compose demo's deploy files (docker-compose.yml, Prometheus config and rules, the
 * Grafana dashboard) and pulls out the PromQL in them, so the static test
 * (deploy-files.test.ts) and the live run (live-checks.ts) check the very same queries.
 */

export const DASHBOARD_FILE = 'deploy/grafana/dashboards/dispatchlab.json';
export const RULES_FILE = 'deploy/prometheus/rules.yml';
export const PROMETHEUS_FILE = 'deploy/prometheus/prometheus.yml';
export const COMPOSE_FILE = 'docker-compose.yml';

/** One PromQL query and where it comes from, for messages. */
export interface NamedQuery {
  readonly where: string;
  readonly expr: string;
}

export interface DatasourceRef {
  type?: string;
  uid?: string;
}

interface Target {
  refId?: string;
  expr?: string;
  datasource?: DatasourceRef;
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: DatasourceRef;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Target[];
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  annotations: { list: { name: string; expr?: string; datasource?: DatasourceRef }[] };
  templating: { list: { name: string; query: { query: string } | string; datasource?: DatasourceRef; allValue?: string }[] };
}

export interface RecordingRule {
  record: string;
  expr: string;
}

export function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/** YAML with merge keys (`<<: *anchor`), which docker-compose.yml uses and YAML 1.2 leaves off by default. */
export function readYaml<T>(file: string): T {
  return parseYaml(readFileSync(file, 'utf8'), { merge: true }) as T;
}

/** deploy/prometheus/prometheus.yml, as far as the tests read it. */
export interface PrometheusConfig {
  scrape_configs: {
    job_name: string;
    static_configs?: { targets: string[] }[];
    dns_sd_configs?: { names: string[]; type: string; port: number }[];
  }[];
}

export function recordingRules(file = RULES_FILE): RecordingRule[] {
  const rules = readYaml<{ groups: { rules: RecordingRule[] }[] }>(file);
  return rules.groups.flatMap((g) => g.rules);
}

/**
 * Grafana's variables replaced by values Prometheus accepts as they are: the `policy` variable
 * by its "All" value, the interval variables by durations that span several scrapes of a short
 * run. An unknown variable is an error, so a new one cannot slip by unchecked.
 */
export function withVariablesResolved(expr: string, rangeSeconds: number): string {
  const values: Record<string, string> = {
    policy: '.*',
    __rate_interval: '1m',
    __interval: '15s',
    __range: `${rangeSeconds}s`,
  };
  return expr.replace(/\$\{?(\w+)\}?/g, (whole, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`unknown dashboard variable ${whole} in: ${expr}`);
    return value;
  });
}

/**
 * Every PromQL query in the dashboard: each panel target, each annotation, and each query variable
 * (`label_values(metric, label)` becomes the query `group by (label) (metric)`, whose series are
 * the variable's values).
 */
export function dashboardQueries(dashboard: Dashboard, rangeSeconds: number): NamedQuery[] {
  const queries: NamedQuery[] = [];
  for (const panel of dashboard.panels) {
    for (const target of panel.targets ?? []) {
      if (target.expr !== undefined) {
        queries.push({ where: `panel "${panel.title}" target ${target.refId}`, expr: withVariablesResolved(target.expr, rangeSeconds) });
      }
    }
  }
  for (const annotation of dashboard.annotations.list) {
    if (annotation.expr !== undefined) {
      queries.push({ where: `annotation "${annotation.name}"`, expr: withVariablesResolved(annotation.expr, rangeSeconds) });
    }
  }
  for (const variable of dashboard.templating.list) {
    const text = typeof variable.query === 'string' ? variable.query : variable.query.query;
    const labelValues = /^label_values\((\w+),\s*(\w+)\)$/.exec(text);
    if (!labelValues) throw new Error(`variable $${variable.name}: expected label_values(metric, label), got ${text}`);
    queries.push({ where: `variable $${variable.name}`, expr: `group by (${labelValues[2]}) (${labelValues[1]})` });
  }
  return queries;
}

/** docker-compose.yml, as far as the tests read it (merge keys resolved). */
export interface ComposeService {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  profiles?: string[];
  networks?: Record<string, { aliases?: string[] }>;
}

export function readCompose(file = COMPOSE_FILE): { services: Record<string, ComposeService> } {
  return readYaml(file);
}

/**
 * The value after `flag` in a compose service's command, with `${VAR:-default}` taken at its
 * default: what a user who sets nothing runs.
 */
export function composeFlag(services: Record<string, ComposeService>, name: string, flagName: string): string {
  const service = services[name];
  if (!service) throw new Error(`${COMPOSE_FILE} has no service "${name}"`);
  const command = service.command ?? [];
  const at = command.indexOf(flagName);
  if (at < 0 || at + 1 >= command.length) throw new Error(`service ${name}: no ${flagName} in its command`);
  return command[at + 1].replace(/\$\{\w+:-([^}]*)\}/g, '$1');
}
