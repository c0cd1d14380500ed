import type { Command } from 'commander';
import { expandVms, loadScenario, ScenarioError, type Scenario } from '../core/scenario.js';
import { formatDuration } from '../core/duration.js';
import { checkPolicySpecs, loadPolicyFiles } from '../policies/index.js';
import { CliError } from './errors.js';
import type { CliIo } from './io.js';

/** `dispatchlab validate F...`: check scenarios; exit 2 with the path of every bad field. */
export function registerValidate(program: Command, io: CliIo): void {
  program
    .command('validate')
    .description('check scenario files; exit 2 and the path of each bad field if one is wrong')
    .argument('<files...>', 'scenario YAML files')
    .action(async (files: string[]) => {
      // Every file is checked, so one run lists every problem; the exit code says if any was bad.
      let bad = 0;
      for (const file of files) {
        let s: Scenario;
        try {
          s = loadScenario(file, checkPolicySpecs);
          const issues = await loadPolicyFiles(s.policies);
          if (issues.length > 0) throw new ScenarioError(file, issues);
        } catch (err) {
          if (!(err instanceof ScenarioError)) throw err;
          io.stderr.write(`${err.message}\n`);
          bad++;
          continue;
        }
        const vms = expandVms(s);
        const replicas = vms.filter((vm) => vm.serves).length;
        io.stdout.write(
          `${file}: ok (${s.name}: ${count(s.hosts.length, 'host')}, ${count(vms.length, 'VM')} of which ${replicas} serve, ` +
            `${count(s.workload.classes.length, 'request class', 'request classes')}, ${count(s.policies.length, 'policy', 'policies')}, ` +
            `duration ${formatDuration(s.duration)})\n`,
        );
      }
      if (bad > 0) throw new CliError(`${bad} of ${files.length} scenario files invalid`);
    });
}

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
