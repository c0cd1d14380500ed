/**
 * The public module `dispatchlab/policy`: what a policy written outside this repository needs,
 * and nothing else. A policy file's default export is a PolicyDefinition, exactly like the
 * built-ins' (docs/policies.md, "Write your own policy"). `z` is re-exported so the options schema
 * is built with the very zod the dispatcher validates with, and a policy file needs no
 * dependency of its own.
 */
export { z } from 'zod';
export type { BackendId, Millis } from '../core/types.js';
export type { Rng } from '../core/rng.js';
export type { BackendState, BackendView, Outcome, PickContext, Policy, PolicyDefinition, PolicyDeps, SessionKeying } from './policy.js';
export { eligible } from './policy.js';
