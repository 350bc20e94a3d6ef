export { GATE_HOLDER, WriteGate } from './write-gate.js';
export type { GateHolder } from './write-gate.js';
