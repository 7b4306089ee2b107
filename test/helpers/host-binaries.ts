// The runtimes and conmon the integration tests drive: wherever setup put them (see src/common/host-binaries.ts).
import { locateHostBinary } from '../../src/common/host-binaries.js';

export const CRUN = locateHostBinary('crun');
export const RUNC = locateHostBinary('runc');
export const CONMON = locateHostBinary('conmon');
