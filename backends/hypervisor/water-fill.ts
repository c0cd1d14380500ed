/**
 * Weighted max-min fair sharing ("water-filling") of a host's physical cores among claimants (VMs,
 * and on a Type 2 host the host OS's own load). It is the fluid limit of a proportional-share CPU
 * scheduler such as Xen's credit scheduler (Cherkasova, Gupta & Vahdat, "Comparison of the three
 * CPU schedulers in Xen", SIGMETRICS PER 2007): each claimant gets capacity in proportion to its
 * weight, never more than it asks for (its demand, already limited by its cap), and what a
 * satisfied claimant leaves over is shared again among the others by weight.
 *
 * Algorithm: if the demands fit, everyone gets their demand. Otherwise repeat: the fair share per
 * unit of weight is (capacity left) / (weight of unsatisfied claimants); every claimant whose demand
 * is at most its fair share is satisfied and leaves; stop when no one leaves, and give the rest
 * their fair share. The fair share only grows between rounds, so a satisfied claimant stays
 * satisfied. No ties to break: equal weights get equal shares. Cost O(k^2) in the worst case for k
 * claimants, O(k) when no one or everyone is satisfied; k is the VMs of one host (a handful).
 */
export class WaterFill {
  /** Inputs and output, one slot per claimant; the caller fills demand and weight. */
  readonly demand: Float64Array;
  readonly weight: Float64Array;
  readonly alloc: Float64Array;
  private readonly open: Uint8Array;

  constructor(readonly size: number) {
    this.demand = new Float64Array(size);
    this.weight = new Float64Array(size);
    this.alloc = new Float64Array(size);
    this.open = new Uint8Array(size);
  }

  /** Whether the demands fit in `capacity`, so that everyone gets their demand. */
  fits(capacity: number): boolean {
    const { demand, size } = this;
    let total = 0;
    for (let i = 0; i < size; i++) total += demand[i];
    return total <= capacity;
  }

  /**
   * Share `capacity` among the claimants into `alloc`; true when the demands fit (alloc = demand).
   * No allocation: called on host events.
   */
  run(capacity: number): boolean {
    const { demand, weight, alloc, open, size } = this;
    if (this.fits(capacity)) {
      alloc.set(demand);
      return true;
    }
    let left = capacity;
    for (let i = 0; i < size; i++) {
      alloc[i] = 0;
      open[i] = demand[i] > 0 ? 1 : 0;
    }
    for (;;) {
      let openWeight = 0;
      for (let i = 0; i < size; i++) if (open[i]) openWeight += weight[i];
      if (openWeight === 0) return false;
      const perWeight = left / openWeight;
      let satisfied = false;
      for (let i = 0; i < size; i++) {
        if (open[i] && demand[i] <= perWeight * weight[i]) {
          alloc[i] = demand[i];
          left -= demand[i];
          open[i] = 0;
          satisfied = true;
        }
      }
      if (!satisfied) {
        for (let i = 0; i < size; i++) if (open[i]) alloc[i] = perWeight * weight[i];
        return false;
      }
    }
  }
}
