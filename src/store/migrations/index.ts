// Every schema change is a new numbered file here, appended to this list. Never edit a released one.
import { m001Foundation } from './001-foundation.js';
import { m002Images } from './002-images.js';
import { m003PodsContainers } from './003-pods-containers.js';
import { m004UsernsRanges } from './004-userns-ranges.js';
import { m005ScaleIndexes } from './005-scale-indexes.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [m001Foundation, m002Images, m003PodsContainers, m004UsernsRanges, m005ScaleIndexes];
