/**
 * Names for a message that lists what exists ("no host "x" (hosts: a, b, c)"): all of them while
 * they are few, else the first `max` and how many there are, so a data centre's 10,000 VMs do not
 * make one error message of 100 KB.
 */
export function listNames(names: Iterable<string>, max = 12): string {
  const all = [...names];
  return all.length <= max ? all.join(', ') : `${all.slice(0, max).join(', ')}, ... (${all.length} in all)`;
}
