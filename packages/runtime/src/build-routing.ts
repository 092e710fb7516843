// The address resolver alone, built from config the way buildEngine builds it, for readers that need no
// engine (the journal views of `moat explain`). Trusts the parsed config; owns the tables it opens (close()).
import type { AddressResolver } from '@moat/address';
import { type CompiledConfig, type Config, compileConfig } from '@moat/config';
import { type AddressExplanation, explainAddress } from './explain-address.ts';

export interface BuiltRouting {
  addressResolver: AddressResolver;
  explainAddress(address: string): AddressExplanation;
  close(): void;
}

/** Compiles the config's routing (tables read once, not watched). Throws ConfigError as compileConfig does. */
export function buildRouting(config: Config, compiled?: CompiledConfig): BuiltRouting {
  const c = compiled ?? compileConfig(config);
  return { addressResolver: c.addressResolver, explainAddress: (address) => explainAddress(c.addressResolver, address), close: () => c.tables.close() };
}
