import type { Command } from 'commander';
import { loadScenario } from '../core/scenario.js';
import { backendsFromScenario, parseBackendList } from '../dispatcher/backend-list.js';
import { checkPolicySpecs } from '../policies/index.js';
import { BACKLOG_FLAG, FRONT_FLAG, WORKERS_FLAG, asCliError, closeOnSignal, ENGINE_HELP, parseEngine, startDispatchers, printDispatcher, readAdminToken, readSessionSecret, resolvePolicy, withBacklog, withEngine, withFront } from './dispatcher-options.js';
import type { ClientFront, ProxyEngineName } from '../core/scenario.js';
import { parsePort } from './flags.js';
import type { CliIo } from './io.js';

/**
 * `dispatchlab dispatcher --scenario F [--backends ...]`: the dispatcher alone, in front of
 * replicas that run elsewhere (`dispatchlab host`, compose). Without --backends, the replicas are
 * where the scenario says the hosts listen.
 */
export function registerDispatcher(program: Command, io: CliIo): void {
  program
    .command('dispatcher')
    .description('run the dispatcher in front of replicas served elsewhere (dispatchlab host)')
    .requiredOption('--scenario <file>', 'scenario YAML file (dispatcher settings, default backends)')
    .option('--backends <list>', 'id=URL,... or URL,... (default: the scenario hosts\' address and replica ports)')
    .option('--policy <name>', 'policy name, scenario label or policy file (.ts, .js) (default: the scenario\'s first)')
    .option('--port <port>', 'proxy port', parsePort('--port'), 8080)
    .option('--admin-port <port>', 'admin API, dashboard and /metrics port', parsePort('--admin-port'), 9901)
    .option('--bind <address>', 'proxy address', '127.0.0.1')
    .option('--admin-bind <address>', 'admin address (keep it private: it controls the dispatcher)', '127.0.0.1')
    .option('--admin-token-file <file>', 'file holding the admin bearer token (else DISPATCHLAB_ADMIN_TOKEN, else generated)')
    .option('--engine <name>', ENGINE_HELP, parseEngine)
    .option(...WORKERS_FLAG)
    .option(...BACKLOG_FLAG)
    .option(...FRONT_FLAG)
    .action(async (opts: { scenario: string; backends?: string; policy?: string; port: number; adminPort: number; bind: string; adminBind: string; adminTokenFile?: string; workers: number; engine?: ProxyEngineName; backlog?: number; front?: ClientFront }) => {
      const scenario = withFront(withBacklog(withEngine(loadScenario(opts.scenario, checkPolicySpecs), opts.engine), opts.backlog), opts.front);
      let backends;
      try {
        backends = opts.backends !== undefined ? parseBackendList(opts.backends, scenario) : backendsFromScenario(scenario);
      } catch (err) {
        asCliError(err);
      }
      const adminToken = readAdminToken(opts.adminTokenFile);
      const policy = await resolvePolicy(scenario, opts.policy);
      const running = await startDispatchers(opts.workers, io)({
        settings: scenario.dispatcher,
        backends,
        policy,
        seed: scenario.seed,
        port: opts.port,
        adminPort: opts.adminPort,
        bind: opts.bind,
        adminBind: opts.adminBind,
        adminToken,
        sessionSecret: readSessionSecret(),
        fleet: { scenario },
      }).catch(asCliError);
      // Before anything is printed: whoever reads the addresses may send a signal at once.
      let removeToken = (): void => undefined;
      closeOnSignal(io, 'dispatcher', () => running.shutdown().finally(() => removeToken()), () => running.close());
      removeToken = printDispatcher(io, running, policy, adminToken !== undefined);
      for (const b of backends) io.stdout.write(`backend    ${b.id} ${b.url}\n`);
    });
}
