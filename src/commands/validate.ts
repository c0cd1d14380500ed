import type { Command } from 'commander';
import { expandVms, loadScenario } from '../core/scenario.js';
import { formatDuration } from '../core/duration.js';
import { checkPolicySpecs } from '../policies/index.js';

/** `dispatchlab validate F...`: check scenarios; exit 2 with the path of every bad field. */
export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('check scenario files; exit 2 and the path of each bad field if one is wrong')
    .argument('<files...>', 'scenario YAML files')
    .action((files: string[]) => {
      for (const file of files) {
        const s = loadScenario(file, checkPolicySpecs);
        const vms = expandVms(s);
        const replicas = vms.filter((vm) => vm.serves).length;
        process.stdout.write(
          `${file}: ok (${s.name}: ${count(s.hosts.length, 'host')}, ${count(vms.length, 'VM')} of which ${replicas} serve, ` +
            `${count(s.workload.classes.length, 'request class', 'request classes')}, ${count(s.policies.length, 'policy', 'policies')}, ` +
            `duration ${formatDuration(s.duration)})\n`,
        );
      }
    });
}

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
