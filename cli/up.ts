import type { Command } from 'commander';
import { loadScenario } from '../core/scenario.js';
import { checkPolicySpecs } from '../policies/index.js';
import { startUp } from '../dispatcher/local-fleet.js';
import { BACKLOG_FLAG, FRONT_FLAG, WORKERS_FLAG, asCliError, closeOnSignal, ENGINE_HELP, parseEngine, startDispatchers, printDispatcher, readAdminToken, readSessionSecret, resolvePolicy, withBacklog, withEngine, withFront } from './dispatcher-options.js';
import type { ClientFront, ProxyEngineName } from '../core/scenario.js';
import { parsePort } from './flags.js';
import type { CliIo } from './io.js';

/**
 * `dispatchlab up --scenario F --policy P`: every host of the scenario and the dispatcher in this
 * one process (the embedded default). Prints the URLs and runs until SIGINT/SIGTERM.
 */
export function registerUp(program: Command, io: CliIo): void {
  program
    .command('up')
    .description('run all hosts of a scenario and the dispatcher in one process')
    .requiredOption('--scenario <file>', 'scenario YAML file')
    .option('--policy <name>', 'policy name, scenario label or policy file (.ts, .js) (default: the scenario\'s first)')
    .option('--port <port>', 'proxy port', parsePort('--port'), 8080)
    .option('--admin-port <port>', 'admin API, dashboard and /metrics port', parsePort('--admin-port'), 9901)
    .option('--bind <address>', 'proxy address', '127.0.0.1')
    .option('--admin-token-file <file>', 'file holding the admin bearer token (else DISPATCHLAB_ADMIN_TOKEN, else generated)')
    .option('--engine <name>', ENGINE_HELP, parseEngine)
    .option(...WORKERS_FLAG)
    .option(...BACKLOG_FLAG)
    .option(...FRONT_FLAG)
    .action(async (opts: { scenario: string; policy?: string; port: number; adminPort: number; bind: string; adminTokenFile?: string; workers: number; engine?: ProxyEngineName; backlog?: number; front?: ClientFront }) => {
      const scenario = withFront(withBacklog(withEngine(loadScenario(opts.scenario, checkPolicySpecs), opts.engine), opts.backlog), opts.front);
      const adminToken = readAdminToken(opts.adminTokenFile);
      const policy = await resolvePolicy(scenario, opts.policy);
      const up = await startUp({
        scenario,
        policy,
        port: opts.port,
        adminPort: opts.adminPort,
        bind: opts.bind,
        adminToken,
        dispatcher: { sessionSecret: readSessionSecret() },
      }, startDispatchers(opts.workers, io)).catch(asCliError);
      // Before anything is printed: whoever reads the addresses may send a signal at once.
      let removeToken = (): void => undefined;
      closeOnSignal(io, 'up', () => up.shutdown().finally(() => removeToken()), () => up.close());
      io.stdout.write(`scenario   ${scenario.name}\n`);
      removeToken = printDispatcher(io, up.dispatcher, policy, adminToken !== undefined);
      for (const h of up.hosts) {
        for (const r of h.replicas) io.stdout.write(`replica    ${r.vm} ${r.url} (host ${h.host.name})\n`);
      }
    });
}
