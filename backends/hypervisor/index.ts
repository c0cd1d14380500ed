// The hypervisor model's public surface: the seam types, the host and fleet factories, the cost model.
export type * from './types.js';
export { createHost, type HostDeps } from './host.js';
export { createFleet, type FleetDeps } from './fleet.js';
export { DEFAULT_COST_MODEL, resolveCostModel, serviceCpuMs, type CostModel, type MmuCost, type TechniqueCost } from './cost-model.js';
