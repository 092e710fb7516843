// moat's decision core: the seed's ordered restriction list as data, evaluated against ports.
// Pure: no sockets, no DNS, no Redis, no clock of its own. Trusts its ports, not the facts.
export type * from './types.ts';
