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
 * claimants, O(k) when no one or everyone is satisfied; k is the VMs of one host (about 20). Each
 * round passes over the claimants still open only (kept in slot order, so every sum adds the same
 * numbers in the same order as a pass over all of them, and the result is the same to the bit),
 * and a caller that already summed the demands hands the total in.
 */
export class WaterFill {
  /** Inputs and output, one slot per claimant; the caller fills demand and weight. */
  readonly demand: Float64Array;
  readonly weight: Float64Array;
  readonly alloc: Float64Array;
  /** The open claimants' slots, in slot order, in [0, openCount) during run(). */
  private readonly open: Int32Array;

  constructor(readonly size: number) {
    this.demand = new Float64Array(size);
    this.weight = new Float64Array(size);
    this.alloc = new Float64Array(size);
    this.open = new Int32Array(size);
  }

  /** The demands summed in slot order. */
  total(): number {
    const { demand, size } = this;
    let total = 0;
    for (let i = 0; i < size; i++) total += demand[i];
    return total;
  }

  /** Whether the demands fit in `capacity`, so that everyone gets their demand. */
  fits(capacity: number): boolean {
    return this.total() <= capacity;
  }

  /**
   * Share `capacity` among the claimants into `alloc`; true when the demands fit (alloc = demand).
   * `demandTotal` must be total(), summed in slot order. No allocation: called on host events.
   */
  run(capacity: number, demandTotal: number = this.total()): boolean {
    const { demand, weight, alloc, open, size } = this;
    if (demandTotal <= capacity) {
      alloc.set(demand);
      return true;
    }
    let left = capacity;
    let openCount = 0;
    for (let i = 0; i < size; i++) {
      alloc[i] = 0;
      if (demand[i] > 0) open[openCount++] = i;
    }
    for (;;) {
      let openWeight = 0;
      for (let k = 0; k < openCount; k++) openWeight += weight[open[k]];
      if (openWeight === 0) return false;
      const perWeight = left / openWeight;
      // Satisfied claimants leave; the others move down in place, keeping their order.
      let stillOpen = 0;
      for (let k = 0; k < openCount; k++) {
        const i = open[k];
        if (demand[i] <= perWeight * weight[i]) {
          alloc[i] = demand[i];
          left -= demand[i];
        } else open[stillOpen++] = i;
      }
      if (stillOpen === openCount) {
        for (let k = 0; k < openCount; k++) alloc[open[k]] = perWeight * weight[open[k]];
        return false;
      }
      openCount = stillOpen;
    }
  }
}
