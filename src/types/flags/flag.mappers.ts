import type { FlagDefinition, FlagView } from '../../services/flags/flag.service';
import type { Flag } from './flag.type';

export const toFlag = (f: FlagDefinition | FlagView): Flag => ({
  key: f.key,
  enabled: f.enabled,
  rolloutPercent: f.rolloutPercent,
  updatedAt: new Date(f.updatedAt),
});
